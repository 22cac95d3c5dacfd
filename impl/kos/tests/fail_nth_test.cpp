// Fail-nth allocation injection (Linux iommufd_fail_nth pattern): for every call of a scenario,
// the 1st, 2nd, ... allocation site it reaches is made to fail in turn until the call succeeds
// without reaching the armed site. Every failing run must return rcOutOfMemory and leave the
// system exactly as before: frames in use, handle tables, DIDs, IOVA ranges, attachments and every
// present translation-structure entry (System::digest), and nothing freed that hardware can reach.
#include <functional>
#include <string>

#include "common/failpoint.h"
#include "kos/sim_system.h"
#include "kos/tests/sim_fixture.h"

namespace kniommu::kos::test {
namespace {

struct Step {
  std::string name;
  std::function<Retcode()> call;
};

class FailNth : public SimTest, public ::testing::WithParamInterface<int> {
 protected:
  KnSimConfig config() override {
    KnSimConfig c = SimTest::config();
    c.caching_mode = GetParam();
    return c;
  }

  // Runs `step` with the n-th site failing for n = 1, 2, ... until it succeeds untouched.
  void run(const Step& step) {
    for (std::uint64_t n = 1;; ++n) {
      const System::Digest before = sys_->impl->digest();
      failpoint_arm(n);
      const Retcode rc = step.call();
      const bool fired = failpoint_sites_seen() >= n;
      failpoint_disarm();
      if (!fired) {
        ASSERT_EQ(rc, rcOk) << step.name << " failed without an injected failure";
        sites_ += n - 1;
        return;
      }
      ASSERT_EQ(rc, rcOutOfMemory) << step.name << " with site " << n << " failing";
      const System::Digest after = sys_->impl->digest();
      ASSERT_EQ(after.frames_in_use, before.frames_in_use) << step.name << " site " << n;
      ASSERT_EQ(after.dids_in_use, before.dids_in_use) << step.name << " site " << n;
      ASSERT_EQ(after.value, before.value) << step.name << " site " << n;
      ASSERT_EQ(KnSimUseAfterFreeCount(sys_), 0u) << step.name << " site " << n;
      ASSERT_LT(n, 10000u) << step.name << ": unbounded number of allocation sites";
    }
  }

  std::uint64_t sites_ = 0;
};

TEST_P(FailNth, EveryAllocationSiteFailsCleanly) {
  Handle small = 0, big = 0, wide = 0, cont = 0, dom = 0, g_small = 0, g_big = 0, g_wide = 0,
         g_ex = 0, map = 0;
  void* va = nullptr;
  DmaInfo* info = nullptr;
  KnPid second = 0;
  const std::vector<Step> steps = {
      {"attach (creates the automatic domain)", [&] { return KnIommuAttachDevice(kDev0); }},
      {"create 3-page buffer", [&] { return KnIoDmaCreate(0, 3 * kPage, DMA_DIR_BIDIR, &small); }},
      {"create 2 MiB-block buffer",
       [&] { return KnIoDmaCreate(9, 4u << 20, DMA_DIR_TO_DEVICE, &big); }},
      // Three 1 MiB blocks: the grant's range crosses a leaf-table boundary, so a later block's
      // mapping allocates a table after earlier blocks were mapped (the rollback path).
      {"create 3-block buffer",
       [&] { return KnIoDmaCreate(8, 3u << 20, DMA_DIR_FROM_DEVICE, &wide); }},
      {"create continuous",
       [&] { return KnIoDmaCreateContinuous(5 * kPage, DMA_DIR_BIDIR, &cont); }},
      {"create domain", [&] { return KnIommuCreateDomain(&dom); }},
      {"attach to created domain", [&] { return KnIommuAttachDeviceToDomain(kDev2, dom); }},
      {"begin small", [&] { return KnIoDmaBegin(small, &g_small); }},
      {"begin big", [&] { return KnIoDmaBegin(big, &g_big); }},
      {"begin wide", [&] { return KnIoDmaBegin(wide, &g_wide); }},
      {"begin ex", [&] { return KnIoDmaBeginEx(wide, dom, &g_ex); }},
      {"map", [&] { return KnIoDmaMap(small, 0, 4096, nullptr, VMM_FLAG_READ, &va, &map); }},
      {"get info",
       [&] {
         info = nullptr;
         const Retcode rc = KnIoDmaGetInfo(g_wide, &info);
         free(info);
         return rc;
       }},
      {"get phys info",
       [&] {
         info = nullptr;
         const Retcode rc = KnIoDmaGetPhysInfo(big, &info);
         free(info);
         return rc;
       }},
      {"close grant", [&] { return KnHandleClose(g_wide); }},
      {"detach", [&] { return KnIommuDetachDevice(kDev0); }},
      {"re-attach", [&] { return KnIommuAttachDevice(kDev0); }},
      {"close domain", [&] { return KnHandleClose(dom); }},
      {"second process", [&] { return KnSimProcessCreate(sys_, &second); }},
      {"second process attaches",
       [&] {
         KnSimBindThread(sys_, second);
         const Retcode rc = KnIommuAttachDevice(kDev1);
         KnSimBindThread(sys_, pid_);
         return rc;
       }},
  };
  for (const Step& s : steps) {
    SCOPED_TRACE(s.name);
    run(s);
    if (HasFatalFailure()) return;
  }
  // The scenario has allocation sites in attach, create, begin, map and info at least.
  EXPECT_GE(sites_, 15u);
  // Everything still works after all the injected failures.
  ASSERT_EQ(dma_write_u64(kDev0, iova_of(g_small), 7).rc, rcOk);
  ASSERT_EQ(KnSimProcessExit(sys_, pid_), rcOk);
}

INSTANTIATE_TEST_SUITE_P(CachingMode, FailNth, ::testing::Values(0, 1));

}  // namespace
}  // namespace kniommu::kos::test
