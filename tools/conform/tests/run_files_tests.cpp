// The files a run writes (--coverage-out JSON, --junit XML) read back by `merge`: every figure
// survives the round trip through either format, and the union sums shards.
#include <gtest/gtest.h>

#include "junit.h"
#include "merge.h"
#include "options.h"
#include "run_json.h"

namespace kniommu::conform {
namespace {

using Status = conformance::ConfigOutcome::Status;

conformance::ConformanceResult sample() {
  conformance::ConformanceResult r;
  r.passed = false;
  conformance::ConfigOutcome a;
  a.config = "l4_sp";
  a.cases_run = 12;
  a.commands = 345;
  a.seconds = 1.5;
  a.seed = 77;
  a.coverage.counts = {{"call:KnIoClose:rcOk", 9}, {"dma:fault:0x5", 4}};
  a.coverage.missing = {"dma:fault:0x4", "leaf:mapped:1G"};
  a.coverage.unreachable = {{"cm1:KnIoDmaBegin:iotlb", "CAP.CM=0: \"never\" & <cached>"}};
  a.slowest = {{7, 0.25, 40}, {3, 0.125, 12}};
  conformance::ConfigOutcome b;
  b.config = "disabled";
  b.status = Status::Failed;
  b.cases_run = 3;
  b.commands = 20;
  b.seconds = 0.5;
  b.seed = 77;
  b.failure = "case crashed: SIGSEGV\nsecond line";
  b.replay_file = "/tmp/x.replay";
  r.outcomes = {a, b};
  return r;
}

void expect_same(const conformance::ConfigOutcome& want, const conformance::ConfigOutcome& got) {
  EXPECT_EQ(got.config, want.config);
  EXPECT_EQ(got.status, want.status);
  EXPECT_EQ(got.cases_run, want.cases_run);
  EXPECT_EQ(got.commands, want.commands);
  EXPECT_NEAR(got.seconds, want.seconds, 1e-6);
  EXPECT_EQ(got.coverage.counts, want.coverage.counts);
  EXPECT_EQ(got.coverage.missing, want.coverage.missing);
  EXPECT_EQ(got.coverage.unreachable, want.coverage.unreachable);
  EXPECT_EQ(got.replay_file, want.replay_file);
  ASSERT_EQ(got.slowest.size(), want.slowest.size());
  for (size_t i = 0; i < got.slowest.size(); ++i) {
    EXPECT_EQ(got.slowest[i].index, want.slowest[i].index);
    EXPECT_NEAR(got.slowest[i].seconds, want.slowest[i].seconds, 1e-6);
    EXPECT_EQ(got.slowest[i].commands, want.slowest[i].commands);
  }
}

TEST(ConformRunFiles, JsonRoundTrip) {
  const auto r = sample();
  std::string error;
  const auto f = parse_shard_text(run_json(r, RunInfo{"kniommu", 77, 2, 5}), "x.json", error);
  ASSERT_TRUE(f) << error;
  EXPECT_EQ(f->seed, 77u);
  EXPECT_EQ(f->shard_index, 2u);
  EXPECT_EQ(f->shard_count, 5u);
  ASSERT_EQ(f->configs.size(), 2u);
  expect_same(r.outcomes[0], f->configs[0]);
  expect_same(r.outcomes[1], f->configs[1]);
  EXPECT_EQ(f->configs[1].failure, r.outcomes[1].failure);
}

TEST(ConformRunFiles, JunitRoundTrip) {
  const auto r = sample();
  std::string error;
  const auto f = parse_shard_text(junit_xml(r, "kniommu-conform", "2/5"), "x.xml", error);
  ASSERT_TRUE(f) << error;
  EXPECT_EQ(f->seed, 77u);
  EXPECT_EQ(f->shard_index, 2u);
  ASSERT_EQ(f->configs.size(), 2u);
  expect_same(r.outcomes[0], f->configs[0]);
  expect_same(r.outcomes[1], f->configs[1]);
}

TEST(ConformRunFiles, MergeSumsShardsAndKeepsFailures) {
  auto r = sample();
  std::string error;
  auto s0 = parse_shard_text(run_json(r, RunInfo{"k", 77, 0, 2}), "s0", error);
  r.outcomes[1].status = Status::Passed;
  r.outcomes[0].coverage.counts["dma:fault:0x4"] = 1;  // shard 1 saw what shard 0 missed
  auto s1 = parse_shard_text(run_json(r, RunInfo{"k", 77, 1, 2}), "s1", error);
  ASSERT_TRUE(s0 && s1) << error;
  const auto m = merge_shards({*s0, *s1}, error);
  ASSERT_TRUE(m) << error;
  EXPECT_FALSE(m->result.passed);
  ASSERT_EQ(m->result.outcomes.size(), 2u);
  const auto& l4 = m->result.outcomes[0];
  EXPECT_EQ(l4.cases_run, 24);
  EXPECT_EQ(l4.commands, 690u);
  EXPECT_EQ(l4.coverage.counts.at("call:KnIoClose:rcOk"), 18u);
  EXPECT_EQ(l4.coverage.missing, std::vector<std::string>{"leaf:mapped:1G"});
  EXPECT_EQ(m->result.outcomes[1].status, Status::Failed);
  ASSERT_EQ(m->failures.size(), 1u);
  EXPECT_EQ(m->failures[0].outcome.replay_file, "/tmp/x.replay");
  EXPECT_EQ(m->failures[0].shard, "0/2");
  EXPECT_TRUE(m->missing_shards.empty());
  EXPECT_FALSE(merge_shards({*s0, *s0}, error)) << "a shard twice";
  auto other = *s1;
  other.seed = 78;
  EXPECT_FALSE(merge_shards({*s0, other}, error)) << "another run";
  EXPECT_NE(error.find("not shards of one run"), std::string::npos);
}

}  // namespace
}  // namespace kniommu::conform
