// The refinement check looks at the model's invariants again only when the model state changed
// since they last held (check_model, refinement_check.cpp): a change of any part of the state,
// however small, must be looked at.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "kniommu/builtin_adapter.h"
#include "refinement_check.h"
#include "sut.h"

namespace kniommu::conformance {
namespace {

bool reports_invariant(const Sut& sut, const std::string& name) {
  const std::vector<std::string> problems = check_refinement(sut);
  return std::find(problems.begin(), problems.end(), "model invariant violated: " + name) !=
         problems.end();
}

// A machine whose model has a buffer, a domain and a grant of the buffer in it, all checked once.
class ModelCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(sut_.ok()) << sut_.error();
    model::State& m = sut_.model;
    m.buffers.emplace(1, model::Buffer{1, 0x3, 0, 4096, 1});
    m.processes.at(1).handles.emplace(1, model::HandleEntry{model::Kind::Buffer, 1});
    m.domains.emplace(1, model::Domain{1, false, {}});
    m.processes.at(1).handles.emplace(2, model::HandleEntry{model::Kind::Domain, 1});
    m.grants.emplace(1, model::Grant{1, 1, 0x1000, 1});
    m.processes.at(1).handles.emplace(3, model::HandleEntry{model::Kind::Grant, 1});
    ASSERT_TRUE(model::check_invariants(m).empty());
    check_refinement(sut_);  // the invariants held in this state
  }
  // The state changed by `corrupt` after a check is judged again.
  void expect_seen(const std::function<void(model::State&)>& corrupt, const char* invariant) {
    corrupt(sut_.model);
    EXPECT_TRUE(reports_invariant(sut_, invariant));
    EXPECT_TRUE(reports_invariant(sut_, invariant)) << "and again on the next check";
  }
  Sut sut_{*kniommu_builtin_adapter(), *find_config_for("l4_sp", KN_SIM_HARDWARE_EMULATOR), 2};
};

TEST_F(ModelCheck, AFlagOfOneHandleIsSeen) {
  expect_seen([](model::State& m) { m.processes.at(1).handles.at(1).revoked = true; },
              "HandleRefsLive");
}

TEST_F(ModelCheck, AFieldOfOneGrantIsSeen) {
  expect_seen([](model::State& m) { m.grants.at(1).pages = 2; }, "GrantRefsLive");
}

TEST_F(ModelCheck, AConfigurationFieldIsSeen) {
  expect_seen([](model::State& m) { m.config.max_domains = 0; }, "DomainCapacity");
}

}  // namespace
}  // namespace kniommu::conformance
