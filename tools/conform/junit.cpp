#include "junit.h"

#include <cstdio>
#include <sstream>

namespace kniommu::conform {
namespace {

std::string escape(const std::string& s) {
    std::string out;
    for (const unsigned char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\n': case '\t': out += static_cast<char>(c); break;
            default:
                // XML 1.0 forbids other control characters even when escaped.
                if (c >= 0x20) out += static_cast<char>(c);
        }
    }
    return out;
}

}  // namespace

std::string junit_xml(const conformance::ConformanceResult& result, const std::string& suite_name) {
    using Status = conformance::ConfigOutcome::Status;
    int failures = 0, errors = 0, skipped = 0;
    double seconds = 0;
    for (const auto& o : result.outcomes) {
        failures += o.status == Status::Failed;
        errors += o.status == Status::Error;
        skipped += o.status == Status::Unsupported;
        seconds += o.seconds;
    }
    std::ostringstream x;
    x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"" << escape(suite_name)
      << "\" tests=\"" << result.outcomes.size() << "\" failures=\"" << failures << "\" errors=\"" << errors
      << "\" skipped=\"" << skipped << "\" time=\"" << seconds << "\">\n";
    for (const auto& o : result.outcomes) {
        x << "    <testcase classname=\"" << escape(suite_name) << "\" name=\"" << escape(o.config)
          << "\" time=\"" << o.seconds << "\">\n";
        const std::string details = o.failure + "\n\ncounterexample (" + std::to_string(o.counterexample_length) +
                                    " commands):\n" + o.counterexample + "\nseed " + std::to_string(o.seed) +
                                    "\nRC_PARAMS=\"" + o.rc_params + "\"";
        if (o.status == Status::Failed) {
            x << "      <failure message=\"" << escape(o.failure.substr(0, o.failure.find('\n'))) << "\">"
              << escape(details) << "</failure>\n";
        } else if (o.status == Status::Error) {
            x << "      <error message=\"" << escape(o.failure) << "\"/>\n";
        } else if (o.status == Status::Unsupported) {
            x << "      <skipped message=\"configuration not supported by the adapter\"/>\n";
        }
        x << "      <system-out>" << o.cases_run << " cases" << (o.budget_exhausted ? ", time budget reached" : "")
          << "</system-out>\n    </testcase>\n";
    }
    x << "  </testsuite>\n</testsuites>\n";
    return x.str();
}

}  // namespace kniommu::conform
