// Crash isolation: one conformance case (or shrink step) in a child process with a time limit.
// A crash, abort or hang of the implementation or adapter then fails that case with the signal,
// and the runner goes on (shrinking the failure like any other). The child is killed by its PID
// on timeout and reaped on every path.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "coverage_counters.h"

namespace kniommu::conformance {

struct CaseReport {
  enum class Kind { Passed, Failed, Discarded, Crashed, TimedOut, Lost };
  Kind kind = Kind::Passed;
  std::string message;      // the failure, or how the child died
  uint64_t commands = 0;    // commands completed
  coverage::Counts counts;  // coverage observed by the case
};

// Runs `body` in a forked child (isolate = true) or in this process. The child reports through a
// pipe, and publishes its completed-command count in shared memory so a crash report can say how
// far the case got.
CaseReport run_case_isolated(const std::function<CaseReport()>& body, bool isolate,
                             std::chrono::milliseconds timeout);

}  // namespace kniommu::conformance
