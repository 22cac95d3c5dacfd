#include "junit.h"

#include <cstdio>
#include <sstream>

namespace kniommu::conform {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (const unsigned char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\n':
      case '\t':
        out += static_cast<char>(c);
        break;
      default:
        // XML 1.0 forbids other control characters even when escaped.
        if (c >= 0x20) out += static_cast<char>(c);
    }
  }
  return out;
}

// The failure as one line for the message attribute: its non-empty lines joined, shortened.
std::string headline(const std::string& failure) {
  std::string out;
  std::size_t start = 0;
  while (start < failure.size()) {
    std::size_t end = failure.find('\n', start);
    if (end == std::string::npos) end = failure.size();
    const std::string line = failure.substr(start, end - start);
    if (line.find_first_not_of(" \t") != std::string::npos)
      out += (out.empty() ? "" : " | ") + line;
    start = end + 1;
  }
  constexpr std::size_t kMax = 300;
  return out.size() > kMax ? out.substr(0, kMax) + "..." : out;
}

std::string property(const std::string& name, const std::string& value) {
  return "        <property name=\"" + escape(name) + "\" value=\"" + escape(value) + "\"/>\n";
}

// Run figures and coverage (docs/reproducing.md "Coverage"): "coverage:<key>" = count,
// "coverage-missing" / "coverage-unreachable:<key>" (= reason) for what was not observed.
std::string properties(const conformance::ConfigOutcome& o, const std::string& shard) {
  std::string p = "      <properties>\n";
  p += property("shard", shard);
  p += property("seed", std::to_string(o.seed));
  p += property("cases", std::to_string(o.cases_run));
  p += property("commands", std::to_string(o.commands));
  p += property("commands_per_second",
                std::to_string(o.seconds > 0 ? static_cast<double>(o.commands) / o.seconds : 0));
  if (!o.replay_file.empty()) p += property("replay_file", o.replay_file);
  for (const auto& s : o.slowest)
    p += property("slowest:case" + std::to_string(s.index),
                  std::to_string(s.seconds) + " s, " + std::to_string(s.commands) + " commands");
  for (const auto& [k, v] : o.coverage.counts) p += property("coverage:" + k, std::to_string(v));
  std::string missing;
  for (const auto& k : o.coverage.missing) missing += (missing.empty() ? "" : " ") + k;
  p += property("coverage-missing", missing);
  for (const auto& [k, why] : o.coverage.unreachable)
    p += property("coverage-unreachable:" + k, why);
  return p + "      </properties>\n";
}

}  // namespace

std::string junit_xml(const conformance::ConformanceResult& result, const std::string& suite_name,
                      const std::string& shard) {
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
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\""
    << escape(suite_name) << "\" tests=\"" << result.outcomes.size() << "\" failures=\"" << failures
    << "\" errors=\"" << errors << "\" skipped=\"" << skipped << "\" time=\"" << seconds << "\">\n";
  for (const auto& o : result.outcomes) {
    x << "    <testcase classname=\"" << escape(suite_name) << "\" name=\"" << escape(o.config)
      << "\" time=\"" << o.seconds << "\">\n";
    x << properties(o, shard);
    const std::string details = o.failure + "\n\ncounterexample (" +
                                std::to_string(o.counterexample_length) + " commands):\n" +
                                o.counterexample + "\nseed " + std::to_string(o.seed) +
                                "\nRC_PARAMS=\"" + o.rc_params + "\"";
    if (o.status == Status::Failed) {
      x << "      <failure message=\"" << escape(headline(o.failure)) << "\">" << escape(details)
        << "</failure>\n";
    } else if (o.status == Status::Error) {
      x << "      <error message=\"" << escape(o.failure) << "\"/>\n";
    } else if (o.status == Status::Unsupported) {
      x << "      <skipped message=\"configuration not supported by the adapter\"/>\n";
    }
    x << "      <system-out>" << o.cases_run << " cases"
      << (o.budget_exhausted ? ", time budget reached" : "") << "</system-out>\n    </testcase>\n";
  }
  x << "  </testsuite>\n</testsuites>\n";
  return x.str();
}

}  // namespace kniommu::conform
