// Non-coherent page walks (ECAP.C = 0, VT-d spec §10.4.3): the unit walks what memory holds, CPU
// stores to table frames stay in the modelled CPU cache until flushed, and everything the
// specification keeps coherent (DMA, the invalidation queue, status writes) stays coherent.
#include <array>
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "hw_fixture.h"

namespace kniommu::hw::test {
namespace {

constexpr std::uint64_t kSmall = 64 * kMiB;  // small enough to flush all of it in a test

UnitConfig non_coherent() {
  UnitConfig c;
  c.coherent = false;
  return c;
}

// --- SimPhysMem with the CPU-cache model -----------------------------------------------------

TEST(CpuCacheModel, StoresReachMemoryOnlyWhenTheirLineIsFlushed) {
  SimPhysMem mem(kSmall);
  mem.enable_cpu_cache_model();
  mem.write64(0x2000, 0x1111);
  mem.write64(0x2038, 0x2222);             // same 64-byte line
  mem.write64(0x2040, 0x3333);             // next line
  EXPECT_EQ(mem.read64(0x2000), 0x1111u);  // the CPU sees its own stores
  EXPECT_EQ(mem.read64_memory(0x2000), 0u);
  EXPECT_EQ(mem.read64_memory(0x2038), 0u);
  EXPECT_EQ(mem.dirty_lines(), 2u);

  mem.flush_cpu_cache(0x2008, 8);  // any byte of a line writes back all of it
  EXPECT_EQ(mem.read64_memory(0x2000), 0x1111u);
  EXPECT_EQ(mem.read64_memory(0x2038), 0x2222u);
  EXPECT_EQ(mem.read64_memory(0x2040), 0u);  // its line was not flushed
  EXPECT_EQ(mem.lines_written_back(), 1u);
  mem.flush_cpu_cache(0x2000, vtd::kPageSize);
  EXPECT_EQ(mem.read64_memory(0x2040), 0x3333u);
  EXPECT_EQ(mem.dirty_lines(), 0u);
  EXPECT_EQ(mem.cache_flush_calls(), 2u);

  // A later store to a flushed line is hidden again; memory keeps the flushed value.
  mem.write64(0x2000, 0x4444);
  EXPECT_EQ(mem.read64_memory(0x2000), 0x1111u);
  std::array<std::uint64_t, 2> words{};
  mem.read_memory(0x2000, words.data(), 16);
  EXPECT_EQ(words[0], 0x1111u);
  mem.read(0x2000, words.data(), 16);
  EXPECT_EQ(words[0], 0x4444u);
}

TEST(CpuCacheModel, AllocatorZeroingIsACpuStore) {
  SimPhysMem mem(kSmall);
  mem.enable_cpu_cache_model();
  PhysAddr pa = 0;
  ASSERT_EQ(mem.alloc_frame(&pa), rcOk);
  mem.write64(pa + 0x100, 0xABCD);
  mem.flush_cpu_cache(pa, vtd::kPageSize);
  mem.free_frame(pa);
  PhysAddr again = 0;
  ASSERT_EQ(mem.alloc_frame(&again), rcOk);
  ASSERT_EQ(again, pa);  // lowest-address fit hands the same frame out again
  EXPECT_EQ(mem.read64(pa + 0x100), 0u);
  EXPECT_EQ(mem.read64_memory(pa + 0x100), 0xABCDu);  // the old table entry, until flushed
  mem.flush_cpu_cache(pa, vtd::kPageSize);
  EXPECT_EQ(mem.read64_memory(pa + 0x100), 0u);
}

TEST(CpuCacheModel, DeviceWritesAreSnoopedAndHostPointersAreRefused) {
  SimPhysMem mem(kSmall);
  mem.enable_cpu_cache_model();
  mem.write64(0x3000, 0x55);  // dirty line
  const std::uint32_t data = 0xC0FFEE;
  mem.device_write(0x3010, &data, sizeof data);  // same line: written back, then the DMA lands
  EXPECT_EQ(mem.read64_memory(0x3000), 0x55u);
  EXPECT_EQ(mem.read64_memory(0x3010), 0xC0FFEEu);
  EXPECT_EQ(mem.read64(0x3010), 0xC0FFEEu);
  EXPECT_EQ(mem.dirty_lines(), 0u);
  EXPECT_EQ(mem.frame_for_write(0x3000), nullptr);  // a store through it could not be seen
  EXPECT_EQ(mem.frame_for_memory_read(0x3000), nullptr);
  EXPECT_NE(mem.frame_for_read(0x3000), nullptr);  // the CPU's own reads may use one
}

TEST(CpuCacheModel, WithoutTheModelMemoryIsTheCpuView) {
  SimPhysMem mem(kSmall);
  mem.write64(0x2000, 7);
  EXPECT_EQ(mem.read64_memory(0x2000), 7u);
  EXPECT_EQ(mem.frame_for_memory_read(0x2000), mem.frame_for_read(0x2000));
  mem.flush_cpu_cache(0x2000, 64);  // counted, nothing to write back
  EXPECT_EQ(mem.cache_flush_calls(), 1u);
  EXPECT_EQ(mem.lines_written_back(), 0u);
  EXPECT_NE(mem.frame_for_write(0x3000), nullptr);
}

// Device threads DMA (walks reading memory past the CPU cache, snooped writes) while the driver
// thread moves leaves between two valid pages, flushes and invalidates: every request translates
// (to one page or the other), and the run is race-free (a tsan-preset CI entry).
TEST(CpuCacheModel, ConcurrentDmaWhileTheDriverRewritesAndFlushes) {
  Machine m(non_coherent(), kSmall);
  const PhysAddr top = m.alloc();
  std::vector<PhysAddr> pages[2];
  for (unsigned i = 0; i < 16; ++i) {
    for (auto& p : pages) p.push_back(m.alloc());
    m.map(top, 4, vtd::kPageSize * i, pages[0][i], 12, kRW);
  }
  m.set_context(Machine::kDev, 1, top, 4);
  m.mem.flush_cpu_cache(0, kSmall);
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
          const std::uint64_t iova = vtd::kPageSize * i + 8 * static_cast<unsigned>(t);
          if (m.bus.dma(Machine::kDev, iova, &word, 8, true, &reason) != rcOk) failures.fetch_add(1);
        }
      }
    });
  }
  for (unsigned round = 0; round < 200; ++round) {
    const unsigned i = round % 16;
    const PhysAddr pte = m.pte_pa(top, 4, vtd::kPageSize * i, 12);
    m.mem.write64(pte, sl_leaf(pages[(round / 16 + 1) % 2][i], 12, kRW));
    m.mem.flush_cpu_cache(pte, 8);
    m.submit(Machine::iotlb_desc(3, 1, vtd::kPageSize * i));
  }
  stop = true;
  for (auto& d : devices) d.join();
  EXPECT_EQ(failures.load(), 0u);
  for (unsigned i = 0; i < 16; ++i) {  // the queue's descriptors stay dirty: it is coherent
    const PhysAddr pte = m.pte_pa(top, 4, vtd::kPageSize * i, 12);
    EXPECT_EQ(m.mem.read64_memory(pte), m.mem.read64(pte));
  }
}

// --- The unit walks memory ------------------------------------------------------------------

// A 4-level context for kDev (DID 7) with 0x1000 -> 0x40'0000 RW, everything flushed, translation
// and queued invalidation on; `coherent` selects ECAP.C.
class Walks : public ::testing::TestWithParam<bool> {
 protected:
  Walks() : m(config(), kSmall) {}
  static UnitConfig config() { return GetParam() ? UnitConfig{} : non_coherent(); }
  void SetUp() override {
    EXPECT_EQ(m.mem.models_cpu_cache(), !GetParam());
    top = m.alloc();
    m.map(top, 4, 0x1000, 0x40'0000, 12, kRW);
    m.set_context(Machine::kDev, 7, top, 4);
    flush_all();
    m.enable();
    m.enable_qi();
    ASSERT_EQ(m.xlate(Machine::kDev, 0x1000, true), Fault::kNone);
  }
  void flush_all() { m.mem.flush_cpu_cache(0, kSmall); }
  void invalidate_all() {
    m.submit(Machine::cc_desc(1, 0));
    m.submit(Machine::iotlb_desc(1, 0));
  }
  bool coherent() const { return GetParam(); }
  Machine m;
  PhysAddr top = 0;
};

TEST_P(Walks, NewLeafIsSeenOnlyOnceFlushedUnlessCoherent) {
  const PhysAddr pte = m.pte_pa(top, 4, 0x2000, 12);  // same leaf table as 0x1000
  m.mem.write64(pte, sl_leaf(0x50'0000, 12, kR));
  // CM = 0: nothing was cached for 0x2000, so no invalidation is needed, only the flush.
  EXPECT_EQ(m.xlate(Machine::kDev, 0x2000, false), coherent() ? Fault::kNone : Fault::kNoRead);
  m.mem.flush_cpu_cache(pte, 8);
  PhysAddr pa = 0;
  EXPECT_EQ(m.xlate(Machine::kDev, 0x2000, false, &pa), Fault::kNone);
  EXPECT_EQ(pa, 0x50'0000u);
}

TEST_P(Walks, ClearedLeafKeepsTranslatingAfterTheInvalidationUntilFlushed) {
  const PhysAddr pte = m.pte_pa(top, 4, 0x1000, 12);
  m.mem.write64(pte, 0);
  invalidate_all();
  // The invalidation made the unit re-walk: without snooping it reads the old leaf from memory.
  EXPECT_EQ(m.xlate(Machine::kDev, 0x1000, true), coherent() ? Fault::kNoWrite : Fault::kNone);
  m.mem.flush_cpu_cache(pte, 8);
  invalidate_all();  // the stale walk above filled the IOTLB again
  EXPECT_EQ(m.xlate(Machine::kDev, 0x1000, true), Fault::kNoWrite);
}

TEST_P(Walks, ContextAndRootEntriesAreWalkedFromMemory) {
  // kDev2 shares kDev's bus: its context entry lands in the already flushed context table.
  m.set_context(Machine::kDev2, 8, top, 4);
  EXPECT_EQ(m.xlate(Machine::kDev2, 0x1000, false),
            coherent() ? Fault::kNone : Fault::kContextNotPresent);
  m.mem.flush_cpu_cache(m.context_pa(Machine::kDev2), 16);
  invalidate_all();  // CM = 0 caches no not-present context, but be explicit
  EXPECT_EQ(m.xlate(Machine::kDev2, 0x1000, false), Fault::kNone);

  // A new bus: the root entry and the new context table are both CPU stores.
  constexpr std::uint16_t kBus3 = 0x0300;
  m.bus.add_device(kBus3);
  m.set_context(kBus3, 9, top, 4);
  EXPECT_EQ(m.xlate(kBus3, 0x1000, false), coherent() ? Fault::kNone : Fault::kRootNotPresent);
  m.mem.flush_cpu_cache(m.root + 16 * 3, 16);  // the root entry only: its table is not flushed
  EXPECT_EQ(m.xlate(kBus3, 0x1000, false), coherent() ? Fault::kNone : Fault::kContextNotPresent);
  m.mem.flush_cpu_cache(m.context_pa(kBus3), 16);
  EXPECT_EQ(m.xlate(kBus3, 0x1000, false), Fault::kNone);
}

TEST_P(Walks, QueueStatusWritesAndDmaStayCoherent) {
  // The descriptors below are CPU stores nobody flushes: the queue is fetched coherently.
  const PhysAddr status = m.alloc();
  m.submit(Machine::wait_desc(true, false, 0x5A5A, status));
  EXPECT_EQ(m.fsts() & mask_of(vtd::kFstsReg, KNIOMMU_F("IQE")), 0u);
  EXPECT_EQ(m.mem.read64(status) & 0xFFFF'FFFF, 0x5A5Au);
  EXPECT_EQ(m.mem.read64_memory(status) & 0xFFFF'FFFF, 0x5A5Au);
  // A device write lands in memory and in what the CPU reads.
  std::uint64_t v = 0x1234'5678'9ABC'DEF0;
  std::uint8_t reason = 0;
  ASSERT_EQ(m.bus.dma(Machine::kDev, 0x1008, &v, 8, true, &reason), rcOk);
  EXPECT_EQ(m.mem.read64(0x40'0008), v);
  EXPECT_EQ(m.mem.read64_memory(0x40'0008), v);
}

// The use-after-free audit follows the walker's view: a table unlinked only in the CPU cache is
// still reachable in memory, so freeing it after the invalidation is a use-after-free there.
TEST_P(Walks, UnlinkNotFlushedBeforeTheFreeIsAUseAfterFree) {
  const PhysAddr l2_entry = m.pte_pa(top, 4, 0x1000, 21);  // level 2 entry -> the leaf table
  const PhysAddr leaf_table =
      m.mem.read64(l2_entry) & mask_of(vtd::kSlTableEntry, KNIOMMU_F("ADDR"));
  m.mem.write64(l2_entry, 0);
  invalidate_all();
  m.mem.free_frame(leaf_table);
  EXPECT_EQ(m.unit.use_after_free_count(), coherent() ? 0u : 1u);
}

TEST_P(Walks, UnlinkFlushedBeforeTheFreeIsClean) {
  const PhysAddr l2_entry = m.pte_pa(top, 4, 0x1000, 21);
  const PhysAddr leaf_table =
      m.mem.read64(l2_entry) & mask_of(vtd::kSlTableEntry, KNIOMMU_F("ADDR"));
  m.mem.write64(l2_entry, 0);
  m.mem.flush_cpu_cache(l2_entry, 8);
  invalidate_all();
  m.mem.free_frame(leaf_table);
  EXPECT_EQ(m.unit.use_after_free_count(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Coherency, Walks, ::testing::Values(true, false),
                         [](const auto& p) { return p.param ? "coherent" : "non_coherent"; });

}  // namespace
}  // namespace kniommu::hw::test
