// Ground (quantifier-free) forms of obligations whose quantified form Z3 decides only along a
// search path that depends on seeds or names (docs/proofs.md, "Robustness: ground obligations").
// Sound by construction: the goal's ∀ is replaced by fresh constants (skolemisation: valid for
// fresh constants ⇔ valid for all values), and each hypothesis ∀ by its instances at a fixed pool
// of terms (∀-elimination: every instance is implied by the hypothesis). An unsat answer to
// instances ∧ ¬goal therefore proves the quantified obligation; a sat answer proves nothing
// (the pool may lack an instance), so the caller must never read it as a refutation.
#pragma once

#include <string>
#include <vector>

#include <z3++.h>

namespace kniommu::proofs {

// True when e contains ∀ or ∃ (lambdas, which denote arrays, do not count).
bool has_quantifier(const z3::expr& e);

// Strips the leading ∀s of `goal`, each bound variable replaced by a fresh constant named
// <prefix><i>; the constants are appended to `skolems`.
z3::expr skolemize(const z3::expr& goal, const std::string& prefix, std::vector<z3::expr>& skolems);

// Every quantifier-free instance of the hypotheses' top-level ∀ conjuncts at the terms of
// `pool` (all combinations whose sorts match), nested ∀ in the instances instantiated again up to
// `depth`; ground conjuncts are kept as they are.
z3::expr_vector ground_instances(const z3::expr_vector& hypotheses,
                                 const std::vector<z3::expr>& pool, unsigned depth = 2);

}  // namespace kniommu::proofs
