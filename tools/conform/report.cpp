#include "report.h"

#include <sstream>

namespace kniommu::conform {
namespace {

// Prints every non-empty line of `text` with `indent` in front.
void print_indented(std::FILE* out, const std::string& text, const char* indent) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find_first_not_of(" \t") != std::string::npos)
      std::fprintf(out, "%s%s\n", indent, line.c_str());
  }
}

}  // namespace

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
                  const conformance::ConformanceOptions& options, const std::string& command) {
  using Status = conformance::ConfigOutcome::Status;
  for (const auto& o : result.outcomes) {
    std::fprintf(out, "  %-12s %-11s %6d cases %8.2fs%s\n", o.config.c_str(),
                 conformance::status_name(o.status), o.cases_run, o.seconds,
                 o.budget_exhausted ? "  (time budget reached)" : "");
    if (o.status == Status::Error) std::fprintf(out, "      %s\n", o.failure.c_str());
    for (const auto& [what, n] : o.skipped)  // checks the judging hardware cannot perform
      std::fprintf(out, "      skipped %llu x %s\n", static_cast<unsigned long long>(n),
                   what.c_str());
    if (o.status != Status::Failed) continue;
    std::fprintf(out, "      failure:\n");
    print_indented(out, o.failure, "        ");
    std::fprintf(out, "      counterexample (%d commands%s):\n", o.counterexample_length,
                 options.shrink ? ", shrunk" : "");
    print_indented(out, o.counterexample, "        ");
    std::fprintf(out, "      seed %llu; reproduce with RC_PARAMS=\"%s\"\n",
                 static_cast<unsigned long long>(o.seed), o.rc_params.c_str());
    if (!options.replay_out.empty()) {
      std::fprintf(out, "      replay file %s: %s --replay %s%s%s\n", options.replay_out.c_str(),
                   command.c_str(), options.replay_out.c_str(),
                   options.mutant.empty() ? "" : " --mutant ", options.mutant.c_str());
    } else {
      std::fprintf(out, "      (add --replay-out FILE to record this case for --replay)\n");
    }
  }
  const Totals t = totals(result);
  std::fprintf(out,
               "%s: %d configuration(s): %d passed, %d failed, %d unsupported, %d error(s); %d "
               "cases in %.1fs",
               result.passed ? "CONFORMS" : "DOES NOT CONFORM", t.configs, t.passed, t.failed,
               t.unsupported, t.errors, t.cases, t.seconds);
  if (!result.outcomes.empty()) {
    std::fprintf(out, "; seed %llu", static_cast<unsigned long long>(result.outcomes.front().seed));
  }
  std::fprintf(out, "\n");
}

}  // namespace kniommu::conform
