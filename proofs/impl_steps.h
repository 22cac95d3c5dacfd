// Implementation-level steps: the driver's side of each call that touches hardware state, split
// at the point where the call waits for its invalidations (Start / Finish), and the hardware's
// cache fills on device DMA. Between Start and Finish of one call any other step may run
// (concurrent calls, device DMA); the call takes its abstract (spec) effect when it returns, at
// Finish. Calls that touch no hardware state are the spec's actions lifted unchanged.
//
// The invalidation discipline is a set of four rules; each can be dropped to show it is needed.
#pragma once

#include <string>
#include <vector>

#include "abstract_actions.h"
#include "impl_state.h"

namespace kniommu::proofs {

struct Discipline {
  // Revoke, detach, close and exit return only after the context-cache / IOTLB / paging-structure
  // invalidations they issued completed (wait descriptor observed).
  bool invalidate_before_return = true;
  // Page-table frames are freed only after that invalidation.
  bool free_frames_after_invalidation = true;
  // IOVA ranges are released for reuse only after that invalidation.
  bool reuse_iova_after_invalidation = true;
  // DIDs are released for reuse only after that invalidation.
  bool reuse_did_after_invalidation = true;
};

struct ImplStep {
  std::string name;
  z3::expr guard;
  ImplState post;
  Watch params;
};

// Every implementation step under discipline `disc`. `tag` distinguishes parameters of several
// instances of one step in a trace.
std::vector<ImplStep> impl_steps(const ImplSorts& so, const ImplState& pre, const Discipline& disc,
                                 const std::string& tag = "");

ImplStep impl_step(const ImplSorts& so, const ImplState& pre, const Discipline& disc,
                   const std::string& name, const std::string& tag = "");

}  // namespace kniommu::proofs
