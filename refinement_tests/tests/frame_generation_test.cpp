// Frame write generations (adapter entry phys_frame_generation) on the suite's own random command
// sequences against the built-in implementation: views that take unchanged tables from the cache
// are the views full reads build, and an adapter whose generations lie is caught by the
// verifying views (hw_view.h ViewCache). hw_view_cache_test.cpp has the same on hand-made tables.
#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "hw_view.h"
#include "refinement_check.h"
#include "short_run.h"
#include "sut.h"
#include "kniommu/builtin_adapter.h"
#include "kniommu/conformance.h"

namespace kniommu::conformance {
namespace {

const KnAdapterV1& real() { return *kniommu_builtin_adapter(); }

ConfigOutcome run(const KnAdapterV1& a, const char* config, int cases, bool generations = true) {
  ConformanceOptions opt = short_run(config, cases);
  opt.frame_generations = generations;
  opt.isolate = false;  // the comparison below counts in this process
  return run_conformance(a, opt).outcomes.at(0);
}

uint64_t never_changes(KnAdapterSession*, uint64_t) { return 1; }

TEST(FrameGenerations, GenerationThatNeverChangesIsReported) {
  KnAdapterV1 a = real();
  a.phys_frame_generation = never_changes;
  const ConfigOutcome o = run(a, "l4_sp", 3);
  EXPECT_EQ(o.status, ConfigOutcome::Status::Failed);
  EXPECT_NE(o.failure.find("changed without a write generation change"), std::string::npos)
      << o.failure;
}

// A table that ends before the entry (built against an older header) is read without it: the
// lying entry beyond its struct_size is never called, and the run passes on full reads.
TEST(FrameGenerations, AnOlderTableEndingBeforeTheEntryIsReadWithout) {
  KnAdapterV1 a = real();
  a.phys_frame_generation = never_changes;
  a.struct_size = static_cast<uint32_t>(offsetof(KnAdapterV1, phys_frame_generation));
  const ConfigOutcome o = run(a, "l4_sp", 3);
  EXPECT_EQ(o.status, ConfigOutcome::Status::Passed) << o.failure;
}

// The same with generations turned off (kniommu-conform --no-frame-generations).
TEST(FrameGenerations, TurnedOffTheEntryIsNotUsed) {
  KnAdapterV1 a = real();
  a.phys_frame_generation = never_changes;
  const ConfigOutcome o = run(a, "l4_sp", 3, false);
  EXPECT_EQ(o.status, ConfigOutcome::Status::Passed) << o.failure;
}

// Before every check the suite makes (use_after_free_count is its first call), the view this
// test keeps with generations is compared with a full read of the same machine.
std::map<KnAdapterSession*, std::unique_ptr<ViewCache>> g_caches;
uint64_t g_views = 0, g_different = 0, g_reused = 0;
std::string g_first_difference;

bool same_view(const HwView& a, const HwView& b) {
  if (a.errors != b.errors || a.table_pages != b.table_pages ||
      a.devices.size() != b.devices.size())
    return false;
  for (const auto& [bdf, d] : b.devices) {
    const auto it = a.devices.find(bdf);
    if (it == a.devices.end() || it->second.did != d.did || it->second.root != d.root ||
        it->second.levels != d.levels || it->second.runs != d.runs)
      return false;
  }
  return true;
}

uint64_t comparing_views(KnAdapterSession* s) {
  std::unique_ptr<ViewCache>& cache = g_caches[s];
  if (cache == nullptr) cache = std::make_unique<ViewCache>();
  const HwView cached = read_hw_view(real(), s, cache.get());
  const HwView full = read_hw_view(real(), s, nullptr);
  ++g_views;
  if (!same_view(cached, full) && g_different++ == 0)
    g_first_difference = "view " + std::to_string(g_views);
  return real().use_after_free_count(s);
}

void destroy_forgetting(KnAdapterSession* s) {
  if (const auto it = g_caches.find(s); it != g_caches.end()) {
    g_reused += it->second->reused();
    g_caches.erase(it);
  }
  real().system_destroy(s);
}

TEST(FrameGenerations, ViewsEqualFullReadsOnRandomCommands) {
  KnAdapterV1 a = real();
  a.use_after_free_count = comparing_views;
  a.system_destroy = destroy_forgetting;
  for (const char* config : {"l4_sp", "l3_nosp", "l3_sp_nc", "l4_cm_tiny"}) {
    g_views = g_different = g_reused = 0;
    const ConfigOutcome o = run(a, config, 20);
    EXPECT_EQ(o.status, ConfigOutcome::Status::Passed) << config << ": " << o.failure;
    EXPECT_GT(g_views, 100u) << config;
    EXPECT_EQ(g_different, 0u) << config << ": first at " << g_first_difference;
    EXPECT_GT(g_reused, g_views) << config << ": tables taken without reading them";
    EXPECT_TRUE(g_caches.empty()) << config;  // every machine destroyed
  }
}

// The end of a case is judged on a full read (verify_kept_tables, called by the runner after the
// last command): a write that the generations hid after the last periodic verifying view would
// otherwise go unseen. Here phys_read starts returning other bytes for the root table (a
// reserved word of a not-present root entry, which the walk ignores) at view 17, between the
// periodic verifying views 16 and 32, while its generation stays the same.
bool g_root_changed = false;
uint64_t g_root = 0;
Retcode read_changed_root(KnAdapterSession* s, uint64_t pa, void* out, size_t len) {
  const Retcode rc = real().phys_read(s, pa, out, len);
  if (rc == rcOk && g_root_changed && pa == g_root && len == 4096)
    static_cast<uint64_t*>(out)[511] ^= uint64_t{1} << 62;
  return rc;
}

TEST(FrameGenerations, TheLastStateOfACaseIsVerifiedOnAFullRead) {
  KnAdapterV1 a = real();
  a.phys_read = read_changed_root;
  g_root_changed = false;
  Sut sut(a, *find_config_for("l4_sp", KN_SIM_HARDWARE_EMULATOR), 2);
  ASSERT_TRUE(sut.ok()) << sut.error();
  g_root = a.read_reg64(sut.session(), 0x20) & ~uint64_t{0xFFF};  // RTADDR
  ASSERT_NE(g_root, 0u);
  for (int view = 1; view <= 16; ++view) ASSERT_TRUE(check_refinement(sut).empty()) << view;
  g_root_changed = true;
  EXPECT_TRUE(check_refinement(sut).empty()) << "view 17 takes the root table from the cache";
  const std::vector<std::string> hidden = verify_kept_tables(sut);
  ASSERT_EQ(hidden.size(), 1u);
  EXPECT_NE(hidden[0].find(kChangedWithoutGeneration), std::string::npos) << hidden[0];
  g_root_changed = false;
}

}  // namespace
}  // namespace kniommu::conformance
