// What `commands` counts (docs/adapter.md): every API call or DMA probe the suite ran and then
// checked, including each step of a composite command such as the grant scenario. Every API call
// records one `call:<name>:<Retcode>` counter and is followed by the full refinement check, so the
// run's commands can never be fewer than its calls; counting only the generated sequence's
// elements (a scenario as one) gives fewer.
#include <gtest/gtest.h>

#include <string>

#include "kniommu/builtin_adapter.h"
#include "kniommu/conformance.h"
#include "short_run.h"

namespace kniommu::conformance {
namespace {

TEST(CommandCount, EveryCheckedStepOfAScenarioCounts) {
  ConformanceOptions opt = short_run("l3_nosp", 40);
  opt.require_paths = false;  // a short run: only the count is under test
  const ConfigOutcome o = run_conformance(*kniommu_builtin_adapter(), opt).outcomes.at(0);
  ASSERT_EQ(o.status, ConfigOutcome::Status::Passed) << o.failure;
  uint64_t calls = 0;
  for (const auto& [key, n] : o.coverage.counts)
    if (key.rfind("call:", 0) == 0) calls += n;
  ASSERT_GT(calls, 0u);
  EXPECT_GE(o.commands, calls) << "every checked API call is a command";
  // The scenario made of several steps was generated: it alone makes calls outnumber the
  // sequence's elements, which is what the assertion above tells apart.
  EXPECT_GT(o.reached.count("grant.aligned-2m") + o.reached.count("grant.straddles-2m"), 0u);
}

}  // namespace
}  // namespace kniommu::conformance
