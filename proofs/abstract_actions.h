// The spec's actions over AbsState: every state-changing API call of docs/semantics.md (in its
// success case; a failing call changes nothing), process exit, and the internal step that frees a
// buffer once its last reference is gone. Read-only calls (KnIoDmaGetInfo, KnIoDmaGetPhysInfo) and
// device DMA do not change the abstract state, so they are stuttering steps that preserve any
// invariant; DMA's real effect (filling hardware caches) is proved in the discipline model.
//
// Action parameters are fresh constants: in a query "Inv ∧ guard ∧ ¬Inv'" they are existentially
// quantified, i.e. the proof covers every choice of arguments.
#pragma once

#include <string>
#include <vector>

#include "abstract_state.h"
#include "obligation.h"

namespace kniommu::proofs {

struct Step {
  std::string name;
  z3::expr guard;  // enabling condition, over the pre-state and the parameters
  AbsState post;   // successor state as terms over the pre-state and the parameters
  Watch params;    // parameters and the state evaluated at them, for counterexamples
};

// `tag` is appended to parameter names, so several instances of an action in one trace have
// distinct parameters.
std::vector<Step> abstract_actions(const Sorts& so, const AbsState& pre,
                                   const std::string& tag = "");

// The action called `name` (throws std::out_of_range if none).
Step abstract_action(const Sorts& so, const AbsState& pre, const std::string& name,
                     const std::string& tag = "");

// The value of the parameter labelled `label` in a step's watch list (throws if none).
z3::expr param_of(const Step& step, const std::string& label);

}  // namespace kniommu::proofs
