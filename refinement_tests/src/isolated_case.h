// Crash isolation: one conformance case (or shrink step) in a child process with a time limit.
// A crash, abort or hang of the implementation or adapter then fails that case with the signal,
// and the runner goes on (shrinking the failure like any other). The child is killed by its PID
// on timeout and reaped on every path.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "config_report.h"
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

// Optimistic isolation: the whole property of one configuration in ONE forked child (its own
// process group), cases in process there. The parent is the watchdog: the child beats a per-case
// heartbeat in shared memory (case_begin/case_end), and a case running longer than `timeout` gets
// the child's group killed by PID. The report (config_report.h) is used only when the child
// exited 0 with a complete report of a passed property; anything else returns nullopt with
// `why_not` set, and the caller runs the per-case path, which is authoritative.
std::optional<ConfigReport> run_config_in_child(const std::function<ConfigReport()>& body,
                                                std::chrono::milliseconds timeout,
                                                std::string& why_not);

// The parent's decision on a finished child (unit-tested): `wait_status` from waitpid, `wire`
// all it wrote.
std::optional<ConfigReport> usable_config_report(bool timed_out, int wait_status,
                                                 const std::string& wire, std::string& why_not);

// Called by the optimistic child around each case: publishes the case's sequence number and
// start time, and resets the completed-command counter.
void heartbeat_case_begin();
void heartbeat_case_end();
// The optimistic child found a failing case: it stops at once (no shrinking there; the per-case
// rerun finds, shrinks and reports it) without a report, so the parent falls back.
[[noreturn]] void abandon_config_child();


}  // namespace kniommu::conformance
