// Expands quantifiers over finite sorts (enumerations, Bool) into conjunctions / disjunctions of
// their instances, keeping quantifiers over the remaining (infinite) variables. Used only in the
// finite-scope counterexample searches, where MBQI over deep lambda/array terms is erratic while
// the expanded, mostly ground formula is decided quickly. Array reads are also pushed through
// stores, lambdas and constant arrays (see read() in the .cpp). The result is equivalent to the
// input.
#pragma once

#include <z3++.h>

namespace kniommu::proofs {

z3::expr expand_finite_quantifiers(const z3::expr& e);

}  // namespace kniommu::proofs
