// Optimistic isolation (isolated_case.h): the optimistic child's wire format and the parent's
// decision to use its report or fall back to the per-case path. The fallback is what makes the
// optimistic path safe, so every way a child can fail to deliver a passing report must lead to
// it.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

#include "config_report.h"
#include "isolated_case.h"

namespace kniommu::conformance {
namespace {

using namespace std::chrono_literals;

ConfigReport sample() {
  ConfigReport r;
  r.passed = true;
  r.cases_run = 300;
  r.budget_exhausted = false;
  r.commands = 12345;
  r.slowest = {{17, 0.125, 40}, {3, 1.0 / 3.0, 7}};
  r.counts = {{"call:KnIoDmaBegin:rcOk", 85}, {"path:leaf:mapped:2M", 4}, {"qskip:x y", 2}};
  return r;
}

bool same(const ConfigReport& a, const ConfigReport& b) {
  if (a.slowest.size() != b.slowest.size()) return false;
  for (size_t i = 0; i < a.slowest.size(); ++i)
    if (a.slowest[i].index != b.slowest[i].index || a.slowest[i].seconds != b.slowest[i].seconds ||
        a.slowest[i].commands != b.slowest[i].commands)
      return false;
  return a.passed == b.passed && a.cases_run == b.cases_run &&
         a.budget_exhausted == b.budget_exhausted && a.commands == b.commands &&
         a.counts == b.counts;
}

TEST(ConformIsolation, ReportRoundTripsExactly) {
  ConfigReport out;
  ASSERT_TRUE(decode_config_report(encode_config_report(sample()), out));
  EXPECT_TRUE(same(out, sample()));
}

// A child killed while writing leaves a prefix: no prefix may decode (the count lines alone
// would: "key 12" of "key 123").
TEST(ConformIsolation, NoTruncatedReportDecodes) {
  const std::string wire = encode_config_report(sample());
  for (size_t n = 0; n < wire.size(); ++n) {
    ConfigReport out;
    EXPECT_FALSE(decode_config_report(wire.substr(0, n), out)) << "prefix of " << n << " bytes";
  }
}

TEST(ConformIsolation, CorruptOrForeignReportsDoNotDecode) {
  const std::string wire = encode_config_report(sample());
  for (size_t i = 0; i < wire.size(); ++i) {
    std::string bad = wire;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    ConfigReport out;
    EXPECT_FALSE(decode_config_report(bad, out)) << "byte " << i << " flipped";
  }
  ConfigReport out;
  EXPECT_FALSE(decode_config_report(wire + "x", out));
  std::string v2 = wire;
  v2.replace(0, 6, "KNCR 2");
  EXPECT_FALSE(decode_config_report(v2, out));
}

TEST(ConformIsolation, OnlyAPassingCompleteReportOfAClean0ExitIsUsed) {
  const std::string good = encode_config_report(sample());
  std::string why;
  EXPECT_TRUE(usable_config_report(false, W_EXITCODE(0, 0), good, why).has_value());
  EXPECT_FALSE(usable_config_report(true, W_EXITCODE(0, 0), good, why));
  EXPECT_EQ(why, "a case exceeded its time limit");
  EXPECT_FALSE(usable_config_report(false, W_EXITCODE(0, SIGSEGV), good, why));
  EXPECT_NE(why.find("SIGSEGV"), std::string::npos) << why;
  EXPECT_FALSE(usable_config_report(false, W_EXITCODE(1, 0), good, why));
  EXPECT_FALSE(usable_config_report(false, W_EXITCODE(3, 0), good, why));
  EXPECT_EQ(why, "a case failed");
  EXPECT_FALSE(usable_config_report(false, W_EXITCODE(0, 0), "", why));
  EXPECT_EQ(why, "the child exited without a report");
  EXPECT_FALSE(usable_config_report(false, W_EXITCODE(0, 0), good.substr(0, good.size() - 1), why));
  ConfigReport failed = sample();
  failed.passed = false;
  EXPECT_FALSE(usable_config_report(false, W_EXITCODE(0, 0), encode_config_report(failed), why));
}

TEST(ConformIsolation, ChildReportReachesTheParent) {
  std::string why;
  const auto r = run_config_in_child([] { return sample(); }, 5s, why);
  ASSERT_TRUE(r.has_value()) << why;
  EXPECT_TRUE(same(*r, sample()));
}

TEST(ConformIsolation, CrashingOrFailingChildFallsBack) {
  std::string why;
  EXPECT_FALSE(run_config_in_child(
      [] {
        std::abort();
        return sample();
      },
      5s, why));
  EXPECT_NE(why.find("SIGABRT"), std::string::npos) << why;
  EXPECT_FALSE(run_config_in_child(
      [] {
        abandon_config_child();
        return sample();
      },
      5s, why));
  EXPECT_EQ(why, "a case failed");
}

// The watchdog: a case that hangs is killed after about the case time limit; time between
// cases (generation) is not timed.
TEST(ConformIsolation, WatchdogKillsAHangingCaseOnly) {
  std::string why;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(run_config_in_child(
      [] {
        heartbeat_case_begin();
        for (;;) ::pause();
        return sample();
      },
      300ms, why));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(why, "a case exceeded its time limit");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s);
  const auto r = run_config_in_child(
      [] {
        heartbeat_case_begin();
        heartbeat_case_end();
        std::this_thread::sleep_for(600ms);  // between cases
        return sample();
      },
      300ms, why);
  EXPECT_TRUE(r.has_value()) << why;
}

}  // namespace
}  // namespace kniommu::conformance
