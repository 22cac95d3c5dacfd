// Issue #8 part 1: the spec's invariants hold initially and are preserved by every action, for any
// number of processes, devices, domains, buffers and grants. One gtest per obligation
// (invariant × action), so ctest lists and times each; a refuted one prints its counterexample.
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "abstract_actions.h"
#include "abstract_state.h"
#include "obligation.h"
#include "test_names.h"

namespace kniommu::proofs {
namespace {

struct Names {
  std::vector<std::string> invariants, actions;
};

const Names& names() {
  static const Names n = [] {
    z3::context c;
    Universe u(c, 0);
    const Sorts so(u);
    const AbsState s = AbsState::fresh(so, "s");
    Names out;
    for (const NamedFormula& i : invariants(so, s)) out.invariants.push_back(i.name);
    for (const Step& a : abstract_actions(so, s)) out.actions.push_back(a.name);
    return out;
  }();
  return n;
}

void expect_proved(const Outcome& o) {
  std::cout << o.report << std::flush;
  EXPECT_EQ(o.verdict, Verdict::Proved) << o.report;
}

class Init : public ::testing::TestWithParam<std::size_t> {};

TEST_P(Init, Holds) {
  const std::size_t ii = GetParam();
  expect_proved(prove(names().invariants[ii] + " initially", [ii](Universe& u) {
    const Sorts so(u);
    const AbsState s = AbsState::fresh(so, "s");
    z3::expr_vector hyp(u.ctx);
    hyp.push_back(init(so, s));
    return Query{hyp, invariants(so, s).at(ii).formula, {}};
  }));
}

INSTANTIATE_TEST_SUITE_P(Inductive, Init,
                         ::testing::Range(std::size_t{0}, names().invariants.size()),
                         [](const auto& p) { return test_name(names().invariants[p.param]); });

using Pair = std::pair<std::size_t, std::size_t>;  // (invariant, action)

std::vector<Pair> pairs() {
  std::vector<Pair> out;
  for (std::size_t i = 0; i < names().invariants.size(); ++i) {
    for (std::size_t a = 0; a < names().actions.size(); ++a) out.emplace_back(i, a);
  }
  return out;
}

class Preserved : public ::testing::TestWithParam<Pair> {};

// Inv ∧ guard(action) ⇒ invariant_k(post(action)), where Inv is the conjunction of all invariants.
TEST_P(Preserved, ByAction) {
  const auto [ii, ai] = GetParam();
  const std::string name = names().invariants[ii] + " after " + names().actions[ai];
  expect_proved(prove(name, [ii, ai](Universe& u) {
    const Sorts so(u);
    const AbsState s = AbsState::fresh(so, "s");
    const Step step = abstract_actions(so, s).at(ai);
    z3::expr_vector hyp(u.ctx);
    for (const NamedFormula& inv : invariants(so, s)) hyp.push_back(inv.formula);
    hyp.push_back(step.guard);
    return Query{hyp, invariants(so, step.post).at(ii).formula, step.params};
  }));
}

INSTANTIATE_TEST_SUITE_P(Inductive, Preserved, ::testing::ValuesIn(pairs()), [](const auto& p) {
  return test_name(names().invariants[p.param.first] + "__" + names().actions[p.param.second]);
});

}  // namespace
}  // namespace kniommu::proofs
