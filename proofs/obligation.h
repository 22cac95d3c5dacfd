// Running one proof obligation with Z3: a timeout on every query, unknown treated as failure,
// the time printed, and a counterexample printed readably when the obligation is refuted.
//
// An obligation is "hypotheses ⇒ goal" over some object sorts. It is PROVED when
// hypotheses ∧ ¬goal is unsat with the sorts uninterpreted (so for every population of objects).
// When Z3 cannot decide that (quantified invariants rarely have a finite model Z3 can build), the
// same query is rebuilt with every object sort a finite enumeration (2, then 3 elements): a model
// there is a genuine counterexample, with nothing to trust but the model itself. Unsat there proves
// nothing, so the verdict stays UNKNOWN, which is a failure.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <z3++.h>

namespace kniommu::proofs {

// Per-query budget. The whole suite must stay under 60 s on 2 cores; a query that needs more is a
// failed proof, not a pass.
inline constexpr unsigned kQueryTimeoutMs = 20000;

// Where object sorts come from: uninterpreted (scope 0: any number of objects) or a finite
// enumeration of `scope` elements (counterexample search only).
class Universe {
 public:
  Universe(z3::context& c, unsigned scope) : ctx(c), scope_(scope) {}
  z3::sort sort(const char* name);
  z3::context& ctx;

 private:
  unsigned scope_;
};

enum class Verdict { Proved, Refuted, Unknown };
const char* verdict_name(Verdict v);

// Named terms whose values make a counterexample readable (action parameters, the state variables
// evaluated at them).
using Watch = std::vector<std::pair<std::string, z3::expr>>;

struct Query {
  z3::expr_vector hypotheses;
  z3::expr goal;  // for witness searches: ignored (use hypotheses only)
  Watch watch;
};
using QueryBuilder = std::function<Query(Universe&)>;

struct Outcome {
  Verdict verdict;
  double seconds;
  std::string report;  // verdict line, timing and (for sat) the evaluated watches
};

// KNIOMMU_PROOFS_SEED=<n>: sets Z3's global smt.random_seed and sat.random_seed to n, to find
// obligations whose proof depends on the search order (docs/proofs.md, "Robustness: ground
// obligations"). Applied before the first query; call again after z3::reset_params().
void apply_environment_seed();

// Proves hypotheses ⇒ goal. On sat the report says "REFUTED <name>" and lists the watches.
Outcome prove(const std::string& name, const QueryBuilder& build);

// Searches a model of the hypotheses. Verdict::Refuted here means "a witness was found" (sat);
// the report says "WITNESS <name>" and lists the watches. Proved means no witness exists.
Outcome find_witness(const std::string& name, const QueryBuilder& build);

}  // namespace kniommu::proofs
