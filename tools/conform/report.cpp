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

double commands_per_second(const conformance::ConfigOutcome& o) {
  return o.seconds > 0 ? static_cast<double>(o.commands) / o.seconds : 0.0;
}

double commands_per_cpu_second(uint64_t commands, double cpu_seconds) {
  return cpu_seconds > 0 ? static_cast<double>(commands) / cpu_seconds : 0.0;
}

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
    t.commands += o.commands;
    t.seconds += o.seconds;
    t.cpu_seconds += o.cpu_seconds;
  }
  return t;
}

void print_result(std::FILE* out, const conformance::ConformanceResult& result,
                  const conformance::ConformanceOptions& options, const std::string& command) {
  using Status = conformance::ConfigOutcome::Status;
  for (const auto& o : result.outcomes) {
    std::fprintf(out,
                 "  %-12s %-11s %6d cases %8llu commands %8.0f commands/s %8.2fs %8.0f "
                 "commands/CPU-s %7.2f CPU-s%s\n",
                 o.config.c_str(), conformance::status_name(o.status), o.cases_run,
                 static_cast<unsigned long long>(o.commands), commands_per_second(o), o.seconds,
                 commands_per_cpu_second(o.commands, o.cpu_seconds), o.cpu_seconds,
                 o.budget_exhausted ? "  (time budget reached)" : "");
    if (o.status == Status::Error) std::fprintf(out, "      %s\n", o.failure.c_str());
    if (!o.slowest.empty()) {
      std::fprintf(out, "      slowest cases:");
      for (const auto& c : o.slowest)
        std::fprintf(out, " #%d %.3fs/%llu", c.index, c.seconds,
                     static_cast<unsigned long long>(c.commands));
      std::fprintf(out, " (case number: seconds/commands)\n");
    }
    for (const auto& [what, n] : o.skipped)  // checks the judging hardware cannot perform
      std::fprintf(out, "      skipped %llu x %s\n", static_cast<unsigned long long>(n),
                   what.c_str());
    if (o.status != Status::Failed) continue;
    std::fprintf(out, "      failure:\n");
    print_indented(out, o.failure, "        ");
    std::fprintf(out, "      counterexample (%d commands%s):\n", o.counterexample_length,
                 options.shrink ? ", shrunk" : "");
    print_indented(out, o.counterexample, "        ");
    if (!o.rc_params.empty())
      std::fprintf(out, "      reproduce with RC_PARAMS=\"%s\"\n", o.rc_params.c_str());
    if (!o.replay_file.empty()) {
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
               "cases, %llu commands in %.1fs (%.0f commands/s; %.0f per CPU-second, %.1f CPU-s)\n",
               result.passed ? "CONFORMS" : "DOES NOT CONFORM", t.configs, t.passed, t.failed,
               t.unsupported, t.errors, t.cases, static_cast<unsigned long long>(t.commands),
               t.seconds, t.seconds > 0 ? static_cast<double>(t.commands) / t.seconds : 0.0,
               commands_per_cpu_second(t.commands, t.cpu_seconds), t.cpu_seconds);
}

}  // namespace kniommu::conform
