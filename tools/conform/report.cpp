#include "report.h"

#include <sstream>

namespace kniommu::conform {

Totals totals(const conformance::ConformanceResult& result) {
    using Status = conformance::ConfigOutcome::Status;
    Totals t;
    for (const auto& o : result.outcomes) {
        ++t.configs;
        t.passed += o.status == Status::Passed;
        t.failed += o.status == Status::Failed;
        t.unsupported += o.status == Status::Unsupported;
        t.errors += o.status == Status::Error;
        t.cases += o.cases_run;
        t.seconds += o.seconds;
    }
    return t;
}

void print_result(std::FILE* out, const conformance::ConformanceResult& result,
                  const conformance::ConformanceOptions& options) {
    using Status = conformance::ConfigOutcome::Status;
    for (const auto& o : result.outcomes) {
        std::fprintf(out, "  %-12s %-11s %6d cases %8.2fs%s\n", o.config.c_str(), conformance::status_name(o.status),
                     o.cases_run, o.seconds, o.budget_exhausted ? "  (time budget reached)" : "");
        if (o.status == Status::Error) std::fprintf(out, "      %s\n", o.failure.c_str());
        if (o.status != Status::Failed) continue;
        std::fprintf(out, "      failure: %s\n", o.failure.c_str());
        std::fprintf(out, "      counterexample (%d commands, shrunk):\n", o.counterexample_length);
        std::istringstream lines(o.counterexample);
        for (std::string line; std::getline(lines, line);) std::fprintf(out, "        %s\n", line.c_str());
        std::fprintf(out, "      seed %llu; reproduce with RC_PARAMS=\"%s\"\n",
                     static_cast<unsigned long long>(o.seed), o.rc_params.c_str());
        if (!options.replay_out.empty()) {
            std::fprintf(out, "      replay file %s: kniommu-conform --replay %s%s%s\n", options.replay_out.c_str(),
                         options.replay_out.c_str(), options.mutant.empty() ? "" : " --mutant ",
                         options.mutant.c_str());
        } else {
            std::fprintf(out, "      (add --replay-out FILE to record this case for --replay)\n");
        }
    }
    const Totals t = totals(result);
    std::fprintf(out, "%s: %d configuration(s): %d passed, %d failed, %d unsupported, %d error(s); %d cases in %.1fs\n",
                 result.passed ? "CONFORMS" : "DOES NOT CONFORM", t.configs, t.passed, t.failed, t.unsupported,
                 t.errors, t.cases, t.seconds);
}

}  // namespace kniommu::conform
