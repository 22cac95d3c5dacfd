// Runs a piece of work in a forked child under a hard time limit. Z3 4.8.12 does not always stop at
// its timeout: under the asan preset 2 of 86 looped runs of proofs_inductive's second shard hung in
// check() of one obligation until CTest's 300 s limit, Z3 busy in a deep recursion (gdb) even when
// interrupted by Z3_interrupt from a thread of ours. A child that outlives its limit is killed by
// its PID, and the work counts as not done, which a strategy treats as a timeout.
#pragma once

#include <functional>
#include <string>

namespace kniommu::proofs {

enum class ChildOutcome {
  kDone,     // the body returned; *out holds its result
  kStopped,  // still running at the limit: killed (SIGKILL) and reaped
  kFailed,   // no result: fork or pipe failed, or the child died or wrote a short result
};

// Forks; the child runs `body`, writes its result to a pipe and leaves with _exit (no atexit
// handlers, no leak check of the parent's heap); a body that throws is a failure. The child dies with the parent (PR_SET_PDEATHSIG),
// so a parent stopped by CTest leaves no child behind. The caller must be single-threaded.
ChildOutcome run_in_child(const std::function<std::string()>& body, unsigned limit_ms,
                          std::string* out);

}  // namespace kniommu::proofs
