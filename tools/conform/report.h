// Human-readable result of a conformance run: one line per configuration, and for a failure the
// message, the shrunk counterexample and how to reproduce it.
#pragma once

#include <cstdio>
#include <string>

#include "kniommu/conformance.h"

namespace kniommu::conform {

// `command` is how the user reruns the tool (e.g. "kniommu-conform --adapter lib.so"), for the
// replay hint.
void print_result(std::FILE* out, const conformance::ConformanceResult& result,
                  const conformance::ConformanceOptions& options, const std::string& command);

struct Totals {
  int configs = 0, passed = 0, failed = 0, unsupported = 0, errors = 0, cases = 0;
  uint64_t commands = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // this process and its case children
};
double commands_per_second(const conformance::ConfigOutcome& o);
// Commands per CPU-second (user + system, case children included): the rate per core, which
// does not depend on how loaded the machine was.
double commands_per_cpu_second(uint64_t commands, double cpu_seconds);
Totals totals(const conformance::ConformanceResult& result);

}  // namespace kniommu::conform
