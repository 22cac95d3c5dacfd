// Small-scope exhaustive explorer of the model: breadth-first search over every state reachable
// within the bounds, checking check_invariants() in each. BFS makes the first counterexample a
// shortest one. States are deduplicated exactly, after renaming the model-internal object ids
// (DomainSerial, BufferId, ...) in a canonical order: states that differ only in those names behave
// identically (no step function's outcome depends on an id's value), so this is a sound symmetry
// reduction.
#ifndef KNIOMMU_MODEL_EXPLORER_H
#define KNIOMMU_MODEL_EXPLORER_H

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "model/model.h"

namespace kniommu::model {

struct ExploreBounds {
  Config config;
  unsigned max_processes = 2;        // process_create calls in a run
  unsigned max_created_domains = 2;  // created domains alive at once
  unsigned max_buffers = 3;          // buffers alive at once
  unsigned depth = 8;                // longest action sequence explored
};

// One API call with all its inputs; `iova` is chosen by the explorer's first-fit policy.
struct Action {
  enum class Op {
    ProcessCreate,
    ProcessExit,
    AttachDevice,
    DetachDevice,
    CreateDomain,
    AttachDeviceToDomain,
    DetachDeviceFromDomain,
    DmaCreate,
    DmaCreateContinuous,
    DmaMap,
    DmaBegin,
    DmaBeginEx,
    HandleClose,
    DmaGetInfo,
    DmaGetPhysInfo
  };
  Op op = Op::ProcessCreate;
  Pid pid = 0;
  Bdf bdf = 0;
  Handle h1 = 0;
  Handle h2 = 0;
};

// Applies `a` to `s`; returns the call's result. Also used to replay counterexample traces.
Result apply(State& s, const Action& a);
std::string describe(const Action& a, const Result& r);

struct TraceStep {
  std::string action;  // "attach_device(pid=1, bdf=0x8) -> rcOk"
  State state;         // the state after it
};

struct ExploreReport {
  size_t distinct_states = 0;
  size_t transitions = 0;  // successful calls explored (including ones reaching known states)
  unsigned depth_reached = 0;
  std::vector<std::string> violated;  // empty: no violation
  State initial;
  std::vector<TraceStep> trace;  // shortest path from `initial` to the violating state
};

ExploreReport explore(const ExploreBounds& bounds);

// The explorer's default scope: 2 processes, 3 devices, 2 created domains, 3 buffers, 3 DIDs
// (so DID exhaustion is reachable), 39-bit addresses.
ExploreBounds default_bounds();

}  // namespace kniommu::model

#endif
