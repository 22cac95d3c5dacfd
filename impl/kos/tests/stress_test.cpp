// Concurrency: several threads, each acting as its own process, call the API and do device DMA at
// the same time, while a rogue device thread probes IOVAs it was never granted. Run under the tsan
// preset to check for data races; the assertions check isolation under contention.
#include <atomic>
#include <thread>
#include <vector>

#include "kos/tests/sim_fixture.h"

namespace kniommu::kos::test {
namespace {

constexpr std::uint16_t kDevices[] = {0x0008, 0x0010, 0x0018, 0x0020, 0x0100, 0x0108};
constexpr int kWorkers = 4;
constexpr std::uint16_t kShared = 0x0100;  // every worker competes for it
constexpr std::uint16_t kRogue = 0x0108;   // never attached

class Stress : public SimTest {
 protected:
  KnSimConfig config() override {
    KnSimConfig c = SimTest::config();
    c.devices = kDevices;
    c.device_count = std::size(kDevices);
    return c;
  }
};

void worker(KnSimSystem* sys, KnPid pid, std::uint16_t own, int iterations,
            std::atomic<int>* failures) {
  KnSimBindThread(sys, pid);
  auto check = [&](bool ok) {
    if (!ok) failures->fetch_add(1);
  };
  check(KnIommuAttachDevice(own) == rcOk);
  for (int i = 0; i < iterations; ++i) {
    Handle b = 0, g = 0, d = 0, gx = 0;
    check(KnIoDmaCreate(i % 3, 4096u << (i % 3), DMA_DIR_BIDIR, &b) == rcOk);
    check(KnIoDmaBegin(b, &g) == rcOk);
    DmaInfo* info = nullptr;
    check(KnIoDmaGetInfo(g, &info) == rcOk);
    const std::uint64_t iova = info != nullptr ? info->descriptors[0].frame << 12 : 0;
    free(info);
    std::uint64_t v = (std::uint64_t{pid} << 32) | static_cast<std::uint64_t>(i);
    std::uint8_t fault = 0;
    check(KnSimDeviceDma(sys, own, iova, &v, 8, 1, &fault) == rcOk);
    std::uint64_t back = 0;
    check(KnSimDeviceDma(sys, own, iova, &back, 8, 0, &fault) == rcOk && back == v);
    // Contend for the shared device: exactly one owner at a time.
    const Retcode rc = KnIommuAttachDevice(kShared);
    check(rc == rcOk || rc == rcBusy);
    if (rc == rcOk) {
      check(KnSimDeviceDma(sys, kShared, iova, &back, 8, 0, &fault) == rcOk && back == v);
      check(KnIommuDetachDevice(kShared) == rcOk);
    }
    check(KnIommuCreateDomain(&d) == rcOk);
    check(KnIoDmaBeginEx(b, d, &gx) == rcOk);
    check(KnHandleClose(g) == rcOk);
    // Revoked synchronously: the own device faults on the closed grant.
    check(KnSimDeviceDma(sys, own, iova, &back, 8, 0, &fault) == rcFail && fault == 0x6);
    check(KnHandleClose(d) == rcOk);  // revokes gx
    check(KnHandleClose(gx) == rcOk);
    check(KnHandleClose(b) == rcOk);
  }
  check(KnIommuDetachDevice(own) == rcOk);
}

TEST_F(Stress, ConcurrentProcessesAndDevices) {
  constexpr int kIterations = 60;
  std::atomic<int> failures{0};
  std::atomic<bool> stop_rogue{false};
  std::atomic<std::uint64_t> rogue_successes{0};
  std::vector<KnPid> pids;
  pids.reserve(kWorkers);
  for (int w = 0; w < kWorkers; ++w) pids.push_back(new_process());
  std::thread rogue([&] {
    std::uint64_t iova = 0x1000;
    std::uint64_t v = 0;
    std::uint8_t fault = 0;
    while (!stop_rogue.load()) {
      if (KnSimDeviceDma(sys_, kRogue, iova, &v, 8, 0, &fault) == rcOk)
        rogue_successes.fetch_add(1);
      iova = (iova + 0x1000) % (64u << 20);
    }
  });
  std::vector<std::thread> threads;
  threads.reserve(kWorkers);
  for (int w = 0; w < kWorkers; ++w)
    threads.emplace_back(worker, sys_, pids[w], kDevices[w], kIterations, &failures);
  for (auto& t : threads) t.join();
  stop_rogue.store(true);
  rogue.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(rogue_successes.load(), 0u);
  // Exits in parallel too.
  threads.clear();
  for (KnPid p : pids) threads.emplace_back([&, p] { EXPECT_EQ(KnSimProcessExit(sys_, p), rcOk); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(KnSimUseAfterFreeCount(sys_), 0u);
}

}  // namespace
}  // namespace kniommu::kos::test
