// Devices DMA through the unit: page splitting, all-or-nothing transfers, the no-IOMMU machine,
// and concurrent DMA while the driver invalidates (run under TSan by the tsan preset); the unit's
// biased lock handing over from its single-thread owner to a second thread.
#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "hw_fixture.h"

namespace kniommu::hw::test {
namespace {

constexpr std::uint16_t kDev = Machine::kDev;

TEST(Bus, MultiPageDmaIsSplitAtPageBoundaries) {
  Machine m;
  const PhysAddr top = m.alloc();
  const PhysAddr a = m.alloc(), b = m.alloc();  // two non-adjacent frames... made so by a gap
  m.map(top, 4, 0x10000, b, 12, kRW);
  m.map(top, 4, 0x11000, a, 12, kRW);
  m.set_context(kDev, 1, top, 4);
  m.enable();
  std::vector<unsigned char> in(6000);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<unsigned char>(i * 13);
  std::uint8_t reason = 0xFF;
  ASSERT_EQ(m.bus.dma(kDev, 0x10000 + 100, in.data(), in.size(), true, &reason), rcOk);
  EXPECT_EQ(reason, 0u);
  unsigned char first = 0, second = 0;
  m.mem.read(b + 100, &first, 1);
  m.mem.read(a + (100 + in.size() - 4096 - 1), &second, 1);
  EXPECT_EQ(first, in[0]);
  EXPECT_EQ(second, in.back());
  std::vector<unsigned char> out(in.size());
  ASSERT_EQ(m.bus.dma(kDev, 0x10000 + 100, out.data(), out.size(), false, &reason), rcOk);
  EXPECT_EQ(in, out);
}

TEST(Bus, AFaultingRequestTransfersNothing) {
  Machine m;
  const PhysAddr top = m.alloc();
  const PhysAddr a = m.alloc();
  m.map(top, 4, 0x10000, a, 12, kRW);
  m.map(top, 4, 0x11000, m.alloc(), 12, kR);  // second page read-only
  m.set_context(kDev, 1, top, 4);
  m.enable();
  std::vector<unsigned char> in(8192, 0xAB);
  std::uint8_t reason = 0;
  EXPECT_EQ(m.bus.dma(kDev, 0x10000, in.data(), in.size(), true, &reason), rcFail);
  EXPECT_EQ(reason, 0x5u);
  EXPECT_EQ(m.mem.read64(a), 0u);  // first page untouched
  EXPECT_EQ(m.unit.stats().faults_recorded, 1u);
}

TEST(Bus, UnknownDeviceAndNoIommu) {
  SimPhysMem mem(64 * kMiB);
  PcieBus bus(mem, nullptr);
  bus.add_device(0x0100);
  std::uint64_t v = 0x1122334455667788ull;
  std::uint8_t reason = 0;
  EXPECT_EQ(bus.dma(0x0200, 0x1000, &v, 8, true, &reason), rcDeviceNotFound);
  ASSERT_EQ(bus.dma(0x0100, 0x3000, &v, 8, true, &reason), rcOk);  // physical address
  EXPECT_EQ(mem.read64(0x3000), v);
  EXPECT_EQ(bus.dma(0x0100, 64 * kMiB - 4, &v, 8, true, &reason), rcFail);  // past the end
  EXPECT_EQ(reason, 0u);
}

TEST(Bus, ConcurrentDmaWhileTheDriverInvalidates) {
  Machine m;
  const PhysAddr top = m.alloc();
  for (unsigned i = 0; i < 16; ++i) m.map(top, 4, vtd::kPageSize * i, m.alloc(), 12, kRW);
  m.set_context(kDev, 1, top, 4);
  m.enable();
  m.enable_qi();
  std::atomic<bool> stop{false};
  std::atomic<unsigned> failures{0};
  std::vector<std::thread> devices;
  devices.reserve(2);
  for (int t = 0; t < 2; ++t) {
    devices.emplace_back([&, t] {
      std::uint64_t word = static_cast<std::uint64_t>(t);
      while (!stop.load()) {
        for (unsigned i = 0; i < 16; ++i) {
          std::uint8_t reason = 0;
          if (m.bus.dma(kDev, 0x1000 * i + 8 * static_cast<unsigned>(t), &word, 8, true, &reason) !=
              rcOk) {
            failures.fetch_add(1);
          }
        }
      }
    });
  }
  for (int round = 0; round < 200; ++round) {
    m.submit(Machine::iotlb_desc(round % 2 == 0 ? 2 : 3, 1, vtd::kPageSize * (round % 16)));
    (void)m.unit.cache_snapshot();
  }
  stop = true;
  for (auto& d : devices) d.join();
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_EQ(m.unit.stats().queue_errors, 0u);
}

// How long a thread that must be blocked is given to (wrongly) get through.
constexpr auto kBlockedFor = std::chrono::milliseconds(100);
// Upper bound on any hand-over in these tests: a thread still waiting after this is stuck.
constexpr auto kStuck = std::chrono::seconds(20);

// The owner (this thread, after its first section) is inside a section it entered without the
// mutex: a second thread asking for the lock must wait until the owner leaves it.
TEST(UnitLock, ASecondThreadWaitsOutTheOwnersSection) {
  UnitLock lock;
  lock.lock();  // first user: through the mutex, becomes the owner
  lock.unlock();
  lock.lock();
  const bool biased = lock.biased_to_this_thread();  // false only without membarrier(2)
  std::atomic<bool> entered{false};
  auto other = std::async(std::launch::async, [&] {
    lock.lock();
    entered = true;
    lock.unlock();
  });
  EXPECT_EQ(other.wait_for(kBlockedFor), std::future_status::timeout);
  EXPECT_FALSE(entered.load()) << "second thread entered while the owner held the lock";
  lock.unlock();
  ASSERT_EQ(other.wait_for(kStuck), std::future_status::ready);
  EXPECT_TRUE(entered.load());
  EXPECT_FALSE(lock.biased_to_this_thread()) << "the bias must be revoked for good";
  if (!biased) GTEST_SKIP() << "membarrier(2) unavailable: the lock is a plain mutex";
}

// After a revocation the former owner takes the mutex like everybody else: it cannot enter while
// another thread holds the lock.
TEST(UnitLock, TheFormerOwnerWaitsForTheMutexAfterARevocation) {
  UnitLock lock;
  lock.lock();
  lock.unlock();
  std::atomic<bool> holding{false};
  std::atomic<bool> released{false};
  std::atomic<bool> release{false};
  auto other = std::async(std::launch::async, [&] {
    lock.lock();  // revokes the bias
    holding = true;
    const auto deadline = std::chrono::steady_clock::now() + kStuck;
    while (!release.load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    released = true;
    lock.unlock();
  });
  const auto deadline = std::chrono::steady_clock::now() + kStuck;
  while (!holding.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(holding.load());
  std::thread releaser([&] {
    std::this_thread::sleep_for(kBlockedFor);
    release = true;
  });
  lock.lock();  // must wait for the other thread's unlock
  EXPECT_TRUE(released.load()) << "the former owner entered while another thread held the lock";
  lock.unlock();
  releaser.join();
  ASSERT_EQ(other.wait_for(kStuck), std::future_status::ready);
}

// Sections of the owner and of other threads never overlap, whenever the bias is revoked: a
// plain (non-atomic) counter incremented under the lock ends exact (and TSan sees no race).
TEST(UnitLock, SectionsNeverOverlapAcrossTheRevocation) {
  constexpr int kRounds = 20000;
  UnitLock lock;
  std::uint64_t counter = 0;
  std::atomic<bool> go{false};
  auto bump = [&] {
    for (int i = 0; i < kRounds; ++i) {
      lock.lock();
      ++counter;
      lock.unlock();
    }
  };
  lock.lock();
  lock.unlock();
  auto other = std::async(std::launch::async, [&] {
    while (!go.load()) std::this_thread::yield();
    bump();
  });
  go = true;
  bump();  // the owner, biased until the other thread's first lock
  ASSERT_EQ(other.wait_for(kStuck), std::future_status::ready);
  EXPECT_EQ(counter, std::uint64_t{2} * kRounds);
}

}  // namespace
}  // namespace kniommu::hw::test
