// The caches behave like real ones: stale until the right invalidation removes them.
#include <algorithm>
#include <vector>

#include "hw/caches.h"
#include "hw_fixture.h"

namespace kniommu::hw::test {
namespace {

constexpr std::uint16_t kDev = Machine::kDev;
constexpr std::uint16_t kDev2 = Machine::kDev2;
constexpr unsigned kGlobal = 1, kDomain = 2, kPage = 3;

class Caches : public MappedUnit {
 protected:
  void unmap(std::uint64_t iova, unsigned shift = 12) {
    m.mem.write64(m.pte_pa(top, 4, iova, shift), 0);
  }
  // Page 0x1000, translated for writing since the last invalidation, is unmapped in memory and
  // the front emptied by an invalidation of another page: the IOTLB, not a walk, must answer
  // with the old frame.
  void expect_iotlb_serves_unmapped_page() {
    unmap(0x1000);
    m.submit(Machine::iotlb_desc(kPage, 7, 0x5000));
    const UnitStats before = m.unit.stats();
    PhysAddr pa = 0;
    ASSERT_EQ(m.xlate(kDev, 0x1000, true, &pa), Fault::kNone);
    EXPECT_EQ(pa, 0x40'0000u);
    EXPECT_EQ(m.unit.stats().iotlb_hits, before.iotlb_hits + 1);
  }
  std::size_t iotlb_entries() {
    std::size_t n = 0;
    for (const auto& e : m.unit.cache_snapshot()) n += e.kind == 1 ? 1 : 0;
    return n;
  }
};

TEST_F(Caches, SkippedInvalidationLeavesOldTranslationUsable) {
  PhysAddr pa = 0;
  ASSERT_EQ(m.xlate(kDev, 0x1000, true, &pa), Fault::kNone);
  unmap(0x1000);
  // The IOTLB still holds the translation: the device keeps access.
  EXPECT_EQ(m.xlate(kDev, 0x1000, true, &pa), Fault::kNone);
  EXPECT_EQ(pa, 0x40'0000u);
  // A PSI for another page or another DID does not help.
  m.submit(Machine::iotlb_desc(kPage, 7, 0x2000));
  m.submit(Machine::iotlb_desc(kPage, 8, 0x1000));
  EXPECT_EQ(m.xlate(kDev, 0x1000, true), Fault::kNone);
  // The right one does.
  m.submit(Machine::iotlb_desc(kPage, 7, 0x1000));
  EXPECT_EQ(m.xlate(kDev, 0x1000, true), Fault::kNoWrite);
}

// Every request counts once as a translation and once as a hit or miss of each cache it
// consulted, whether the IOTLB's front or the caches behind it answered (requests 2..5 here).
TEST_F(Caches, StatisticsCountEveryRequestOnce) {
  const UnitStats before = m.unit.stats();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(m.xlate(kDev, 0x1010, false), Fault::kNone);
  const UnitStats s = m.unit.stats();
  EXPECT_EQ(s.translations - before.translations, 5u);
  EXPECT_EQ(s.iotlb_misses - before.iotlb_misses, 1u);
  EXPECT_EQ(s.iotlb_hits - before.iotlb_hits, 4u);
  EXPECT_EQ(s.context_misses - before.context_misses, 1u);
  EXPECT_EQ(s.context_hits - before.context_hits, 4u);
}

// Behind the front (which every invalidation empties) the IOTLB still finds what it was filled
// with: the fill after a miss files the entry where the lookup will look for it.
TEST_F(Caches, IotlbServesItsEntryWhenTheFrontIsEmptied) {
  ASSERT_EQ(m.xlate(kDev, 0x1000, true), Fault::kNone);
  expect_iotlb_serves_unmapped_page();
}

// The same with a superpage entry in the IOTLB, so that its lookup probes every page size.
TEST_F(Caches, IotlbServesItsEntryWhenTheFrontIsEmptiedWithASuperpageCached) {
  m.map(top, 4, 0x4000'0000, 0x8000'0000, 21, kRW);
  PhysAddr pa = 0;
  // A 2 MiB entry, through a 4 KiB page whose probe lands elsewhere than that of page 0x1000.
  ASSERT_EQ(m.xlate(kDev, 0x4000'3000, false, &pa), Fault::kNone);
  ASSERT_EQ(pa, 0x8000'3000u);
  ASSERT_EQ(m.xlate(kDev, 0x1000, true), Fault::kNone);
  expect_iotlb_serves_unmapped_page();
}

TEST_F(Caches, PsiWithAddressMaskCoversTheAlignedBlock) {
  m.map(top, 4, 0x7000, 0x41'0000, 12, kRW);
  ASSERT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNone);
  ASSERT_EQ(m.xlate(kDev, 0x7000, false), Fault::kNone);
  unmap(0x1000);
  unmap(0x7000);
  // ADDR 0x0000 with AM=3 covers 0x0000-0x7FFF (an unaligned ADDR is a protocol violation:
  // protocol_test.cpp).
  m.submit(Machine::iotlb_desc(kPage, 7, 0x0000, 3));
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNoRead);
  EXPECT_EQ(m.xlate(kDev, 0x7000, false), Fault::kNoRead);
}

TEST_F(Caches, SmallPsiInsideACachedSuperpageDropsIt) {
  m.map(top, 4, 0x4000'0000, 0x8000'0000, 21, kRW);  // 2 MiB at 1 GiB
  ASSERT_EQ(m.xlate(kDev, 0x4000'0000 + 0x12'3456, false), Fault::kNone);
  unmap(0x4000'0000, 21);
  EXPECT_EQ(m.xlate(kDev, 0x4000'0000, false), Fault::kNone);  // stale superpage
  // A 4 KiB PSI in the middle of the superpage must remove the whole cached 2 MiB entry.
  m.submit(Machine::iotlb_desc(kPage, 7, 0x4000'0000 + 0x10'0000, 0));
  EXPECT_EQ(m.xlate(kDev, 0x4000'0000, false), Fault::kNoRead);
  EXPECT_EQ(m.xlate(kDev, 0x4000'0000 + 0x1F'F000, false), Fault::kNoRead);
}

TEST_F(Caches, IotlbIsTaggedByDidAndSurvivesContextChangesUntilDsi) {
  ASSERT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNone);
  // A new domain reuses DID 7 with an empty table for a second device: the stale DID-7 IOTLB
  // entry serves it (the DID-reuse bug the test suite must be able to catch).
  const PhysAddr other = m.alloc();
  m.set_context(kDev2, 7, other, 4);
  PhysAddr pa = 0;
  EXPECT_EQ(m.xlate(kDev2, 0x1000, false, &pa), Fault::kNone);
  EXPECT_EQ(pa, 0x40'0000u);
  // Replacing kDev's own context (device-selective context invalidation) leaves it too.
  m.set_context(kDev, 7, other, 4);
  m.submit(Machine::cc_desc(kPage, 7, kDev));
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNone);
  // DSI of DID 7 finally removes it.
  m.submit(Machine::iotlb_desc(kDomain, 7));
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNoRead);
  EXPECT_EQ(m.xlate(kDev2, 0x1000, false), Fault::kNoRead);
}

TEST_F(Caches, ContextCacheIsStaleUntilContextInvalidation) {
  ASSERT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNone);
  vtd::clear_entry128(m.mem, m.context_pa(kDev));  // detach without invalidating
  m.submit(Machine::iotlb_desc(kDomain, 7));
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNone);  // context cache still has it
  // Device-selective with the wrong DID does not match; with the right one it does.
  m.submit(Machine::cc_desc(kPage, 9, kDev));
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNone);
  m.submit(Machine::cc_desc(kPage, 7, kDev));
  m.submit(Machine::iotlb_desc(kDomain, 7));
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kContextNotPresent);
}

TEST_F(Caches, FunctionMaskWidensDeviceSelectiveInvalidation) {
  m.set_context(kDev + 1, 7, top, 4);  // 01:01.1
  ASSERT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNone);
  ASSERT_EQ(m.xlate(kDev + 1, 0x1000, false), Fault::kNone);
  vtd::clear_entry128(m.mem, m.context_pa(kDev));
  vtd::clear_entry128(m.mem, m.context_pa(kDev + 1));
  m.submit(Machine::cc_desc(kPage, 7, kDev, /*fm=*/3));  // functions 0-7 of 01:01
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kContextNotPresent);
  EXPECT_EQ(m.xlate(kDev + 1, 0x1000, false), Fault::kContextNotPresent);
}

TEST_F(Caches, PagingStructureCacheNeedsIhZero) {
  m.map(top, 4, 0x2000, 0x42'0000, 12, kRW);
  ASSERT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNone);
  // Replace the page table under the PDE (as if a table were freed and a new one linked).
  const PhysAddr pde = m.pte_pa(top, 4, 0x1000, 21);
  const PhysAddr fresh = m.alloc();
  m.mem.write64(fresh + kEntryBytes * 2, sl_leaf(0x77'0000, 12, kRW));  // maps 0x2000 elsewhere
  m.mem.write64(pde, sl_table_entry(fresh));
  // IH=1 promises only leaves changed: the cached PDE survives, the walk uses the old table.
  m.submit(Machine::iotlb_desc(kPage, 7, 0x2000, 0, /*ih=*/true));
  PhysAddr pa = 0;
  ASSERT_EQ(m.xlate(kDev, 0x2000, false, &pa), Fault::kNone);
  EXPECT_EQ(pa, 0x42'0000u);
  // IH=0 drops the paging-structure entries for the range too.
  m.submit(Machine::iotlb_desc(kPage, 7, 0x2000, 0, /*ih=*/false));
  ASSERT_EQ(m.xlate(kDev, 0x2000, false, &pa), Fault::kNone);
  EXPECT_EQ(pa, 0x77'0000u);
}

TEST_F(Caches, GlobalInvalidationsDropEverything) {
  ASSERT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNone);
  EXPECT_GT(m.unit.cache_snapshot().size(), 0u);
  m.submit(Machine::cc_desc(kGlobal, 0));
  m.submit(Machine::iotlb_desc(kGlobal, 0));
  EXPECT_EQ(m.unit.cache_snapshot().size(), 0u);
  EXPECT_EQ(m.unit.stats().psc_entries_now, 0u);
  const UnitStats s = m.unit.stats();
  EXPECT_EQ(s.cc_global, 2u);  // one from enable(), one here
  EXPECT_EQ(s.iotlb_global, 2u);
}

TEST_F(Caches, SrtpDoesNotFlushUntilGlobalInvalidations) {
  PhysAddr pa = 0;
  ASSERT_EQ(m.xlate(kDev, 0x1000, false, &pa), Fault::kNone);
  // A second root table in which kDev's domain maps 0x1000 elsewhere.
  const PhysAddr old_root = m.root;
  m.root = m.alloc();
  const PhysAddr top2 = m.alloc();
  m.map(top2, 4, 0x1000, 0x99'0000, 12, kRW);
  m.set_context(kDev, 9, top2, 4);
  m.unit.write64(vtd::kRegRtaddr, m.root);
  m.gcmd(static_cast<std::uint32_t>(mask_of(vtd::kGcmdReg, KNIOMMU_F("SRTP"))));
  ASSERT_EQ(m.xlate(kDev, 0x1000, false, &pa), Fault::kNone);
  EXPECT_EQ(pa, 0x40'0000u);  // cached context and IOTLB entry of the old root table
  m.submit(Machine::cc_desc(kGlobal, 0));
  m.submit(Machine::iotlb_desc(kGlobal, 0));
  ASSERT_EQ(m.xlate(kDev, 0x1000, false, &pa), Fault::kNone);
  EXPECT_EQ(pa, 0x99'0000u);
  bool context_listed = false;
  for (const auto& e : m.unit.cache_snapshot()) {
    if (e.kind == 0 && e.sid == kDev) {
      context_listed = true;
      EXPECT_EQ(e.did, 9);
      EXPECT_EQ(e.pa, top2);
    }
  }
  EXPECT_TRUE(context_listed);
  // The old root table is no longer reachable: freeing it is not a violation.
  m.mem.free_frame(old_root);
  EXPECT_EQ(m.unit.use_after_free_count(), 0u);
}

// A device striding through memory must not turn the caches' lookups into list walks: the
// hash's buckets are its low bits, which for a plain product depend only on the page number's
// low bits. Full caches of pages a power of two apart, each stride from 4 KiB to 512 GiB.
TEST(CacheHash, PagesAPowerOfTwoApartSpreadOverTheBuckets) {
  constexpr std::size_t kEntries = 512;  // buckets: 1024
  // A random spread of 512 keys over 1024 buckets chains at most about 5; a hash keeping the
  // page number's low bits chains all 512 keys of one stride of 2^10 pages or more.
  constexpr std::size_t kLongestAllowed = 8;
  for (unsigned stride_log = 0; stride_log <= 27; ++stride_log) {
    Iotlb iotlb(kEntries);
    PagingStructureCache psc(kEntries);
    for (std::uint64_t i = 0; i < kEntries; ++i) {
      const std::uint64_t iova = (i << stride_log) << 12;
      iotlb.insert(3, iova, 12, IotlbEntry{0x1000, 3});
      psc.insert(3, 2, iova << 9, PscEntry{0x1000, 3, 0, 0});  // level 2: one entry per 2 MiB
    }
    ASSERT_EQ(iotlb.size(), kEntries);
    ASSERT_EQ(psc.size(), kEntries);
    EXPECT_LE(iotlb.longest_chain(), kLongestAllowed) << "4 KiB pages 2^" << stride_log << " apart";
    EXPECT_LE(psc.longest_chain(), kLongestAllowed) << "2 MiB ranges 2^" << stride_log << " apart";
  }
}

TEST(PagingStructureCache, CapacityZeroDisablesIt) {
  UnitConfig c;
  c.paging_structure_cache_entries = 0;
  Machine m(c);
  const PhysAddr top = m.alloc();
  m.map(top, 4, 0x2000, 0x42'0000, 12, kRW);
  m.set_context(kDev, 7, top, 4);
  m.enable();
  m.enable_qi();
  ASSERT_EQ(m.xlate(kDev, 0x2000, false), Fault::kNone);
  const PhysAddr fresh = m.alloc();
  m.mem.write64(fresh + kEntryBytes * 2, sl_leaf(0x77'0000, 12, kRW));
  m.mem.write64(m.pte_pa(top, 4, 0x2000, 21), sl_table_entry(fresh));
  m.submit(Machine::iotlb_desc(kPage, 7, 0x2000, 0, /*ih=*/true));
  PhysAddr pa = 0;
  ASSERT_EQ(m.xlate(kDev, 0x2000, false, &pa), Fault::kNone);
  EXPECT_EQ(pa, 0x77'0000u);  // nothing cached the old PDE
  EXPECT_EQ(m.unit.stats().psc_entries_now, 0u);
}

TEST(CachingMode, NotPresentEntriesAreCachedUntilInvalidated) {
  UnitConfig c;
  c.caching_mode = true;
  Machine m(c);
  const PhysAddr top = m.alloc();
  m.set_context(kDev, 7, top, 4);
  m.enable();
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNoRead);  // caches a negative entry
  m.map(top, 4, 0x1000, 0x40'0000, 12, kRW);
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNoRead);  // still negative
  EXPECT_EQ(m.reg_iotlb_invalidate(kPage, 7, 0x1000, 0, true), kPage);
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNone);

  // Not-present context entries are cached under DID 0.
  EXPECT_EQ(m.xlate(kDev2, 0x1000, false), Fault::kContextNotPresent);
  m.set_context(kDev2, 8, top, 4);
  EXPECT_EQ(m.xlate(kDev2, 0x1000, false), Fault::kContextNotPresent);
  m.reg_context_invalidate(kPage, 0, kDev2);
  EXPECT_EQ(m.xlate(kDev2, 0x1000, false), Fault::kNone);
}

TEST(CachingMode, WithoutCmNotPresentIsNeverCached) {
  Machine m;
  const PhysAddr top = m.alloc();
  m.set_context(kDev, 7, top, 4);
  m.enable();
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNoRead);
  m.map(top, 4, 0x1000, 0x40'0000, 12, kRW);
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNone);
}

// The context cache remembers its last hit: an eviction that hands that slot to another device
// must not let the first device's next request use the other device's context (its domain,
// its table).
TEST(Capacity, ContextCacheEvictionDoesNotServeAnotherDevicesContext) {
  UnitConfig c;
  c.context_cache_entries = 1;
  Machine m(c);
  const PhysAddr top1 = m.alloc();
  const PhysAddr top2 = m.alloc();
  m.map(top1, 4, 0x1000, 0x40'0000, 12, kRW);
  m.map(top1, 4, 0x2000, 0x41'0000, 12, kRW);
  m.map(top2, 4, 0x1000, 0x50'0000, 12, kRW);
  m.set_context(kDev, 7, top1, 4);
  m.set_context(Machine::kDev2, 8, top2, 4);
  m.enable();
  PhysAddr pa = 0;
  ASSERT_EQ(m.xlate(kDev, 0x1000, false, &pa), Fault::kNone);  // context fetched and cached
  EXPECT_EQ(pa, 0x40'0000u);
  ASSERT_EQ(m.xlate(kDev, 0x2000, false, &pa), Fault::kNone);  // context cache hit
  EXPECT_EQ(pa, 0x41'0000u);
  ASSERT_EQ(m.xlate(Machine::kDev2, 0x1000, false, &pa), Fault::kNone);  // evicts kDev's entry
  EXPECT_EQ(pa, 0x50'0000u);
  ASSERT_EQ(m.xlate(kDev, 0x1234, false, &pa), Fault::kNone);
  EXPECT_EQ(pa, 0x40'0234u);
  EXPECT_EQ(m.unit.stats().context_misses, 3u);
}

TEST(Capacity, IotlbEvictsDeterministicallyAtCapacity) {
  UnitConfig c;
  c.iotlb_entries = 4;
  Machine m(c);
  const PhysAddr top = m.alloc();
  for (unsigned i = 0; i < 8; ++i)
    m.map(top, 4, vtd::kPageSize * (i + 1), 0x40'0000 + vtd::kPageSize * i, 12, kRW);
  m.set_context(kDev, 7, top, 4);
  m.enable();
  for (unsigned i = 0; i < 8; ++i)
    ASSERT_EQ(m.xlate(kDev, vtd::kPageSize * (i + 1), false), Fault::kNone);
  std::vector<std::uint64_t> cached;
  for (const auto& e : m.unit.cache_snapshot()) {
    if (e.kind == 1) cached.push_back(e.iova);
  }
  // Round-robin replacement: the last four fills survive.
  std::sort(cached.begin(), cached.end());
  EXPECT_EQ(cached, (std::vector<std::uint64_t>{0x5000, 0x6000, 0x7000, 0x8000}));
  // An evicted entry is walked again: unmapping page 1 without invalidation now shows.
  m.mem.write64(m.pte_pa(top, 4, 0x1000, 12), 0);
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNoRead);
}

class UseAfterFree : public Caches {
 protected:
  // Links a fresh page table under the PDE of `iova` mapping its first page, and fills the caches.
  PhysAddr link_table(std::uint64_t iova) {
    const PhysAddr t = m.alloc();
    m.mem.write64(t, sl_leaf(0x50'0000, 12, kRW));
    m.mem.write64(m.pte_pa(top, 4, iova, 21), sl_table_entry(t));
    EXPECT_EQ(m.xlate(kDev, iova, false), Fault::kNone);
    return t;
  }
};

TEST_F(UseAfterFree, FreeingALinkedTableIsCounted) {
  const PhysAddr t = link_table(0x20'0000);
  m.mem.free_frame(t);
  EXPECT_EQ(m.unit.use_after_free_count(), 1u);
}

// Unlink a table, then maybe invalidate its range, then free it.
enum class Flush { kNone, kLeafOnly, kWithTables };
class UnlinkThenFree : public UseAfterFree, public ::testing::WithParamInterface<Flush> {};

TEST_P(UnlinkThenFree, CountsExactlyWhenTheTableMayStillBeCached) {
  const PhysAddr t = link_table(0x20'0000);
  m.mem.write64(m.pte_pa(top, 4, 0x20'0000, 21), 0);
  if (GetParam() != Flush::kNone) {
    m.submit(Machine::iotlb_desc(kPage, 7, 0x20'0000, 9, GetParam() == Flush::kLeafOnly));
  }
  m.mem.free_frame(t);
  // No flush, or IH=1: the paging-structure cache still points at the table.
  EXPECT_EQ(m.unit.use_after_free_count(), GetParam() == Flush::kWithTables ? 0u : 1u);
}

INSTANTIATE_TEST_SUITE_P(Flushes, UnlinkThenFree,
                         ::testing::Values(Flush::kNone, Flush::kLeafOnly, Flush::kWithTables));

TEST_F(UseAfterFree, BufferFrameStillInTheIotlbIsCounted) {
  const PhysAddr buf = m.alloc();
  m.map(top, 4, 0x80'0000, buf, 12, kRW);
  ASSERT_EQ(m.xlate(kDev, 0x80'0000, false), Fault::kNone);
  m.mem.write64(m.pte_pa(top, 4, 0x80'0000, 12), 0);
  m.mem.free_frame(buf);
  EXPECT_EQ(m.unit.use_after_free_count(), 1u);
  m.submit(Machine::iotlb_desc(kPage, 7, 0x80'0000, 0, true));
  // Unmapped and invalidated: freeing is fine (the allocator may hand out the same frame again).
  const PhysAddr buf2 = m.alloc();
  m.map(top, 4, 0x81'0000, buf2, 12, kRW);
  ASSERT_EQ(m.xlate(kDev, 0x81'0000, false), Fault::kNone);
  m.mem.write64(m.pte_pa(top, 4, 0x81'0000, 12), 0);
  m.submit(Machine::iotlb_desc(kPage, 7, 0x81'0000, 0, true));
  m.mem.free_frame(buf2);
  EXPECT_EQ(m.unit.use_after_free_count(), 1u);
}

// A batch (free_blocks, as the driver frees a buffer's blocks) is audited block by block, against
// the state each block would meet freed alone: the mapped blocks are counted, each once, the
// unmapped one is not, and the batch changes nothing else.
TEST_F(UseAfterFree, EveryStillMappedBlockOfABatchIsCountedOnce) {
  std::vector<PhysAddr> mapped;
  for (std::uint64_t i = 0; i < 70; ++i) {  // more than one chunk of SimPhysMem::free_blocks
    const PhysAddr buf = m.alloc();
    m.map(top, 4, 0x80'0000 + i * vtd::kPageSize, buf, 12, kRW);
    mapped.push_back(buf);
  }
  const PhysAddr loose = m.alloc();  // never mapped
  std::vector<PhysAddr> batch = {mapped[0], loose};
  batch.insert(batch.end(), mapped.begin() + 1, mapped.end());
  batch.push_back(mapped[3]);  // a double free in the batch: a bad free, not a second count
  const std::uint64_t in_use = m.mem.frames_in_use();
  m.mem.free_blocks(batch.data(), batch.size(), 0);
  EXPECT_EQ(m.unit.use_after_free_count(), mapped.size());
  EXPECT_EQ(m.mem.bad_free_count(), 1u);
  EXPECT_EQ(m.mem.frames_in_use(), in_use - mapped.size() - 1);
}

TEST_F(UseAfterFree, ContextCacheSlptptrCounts) {
  // Detached and IOTLB-invalidated, but the context cache still names the top table.
  ASSERT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNone);
  vtd::clear_entry128(m.mem, m.context_pa(kDev));
  m.submit(Machine::iotlb_desc(kDomain, 7));
  m.mem.free_frame(top);
  EXPECT_EQ(m.unit.use_after_free_count(), 1u);
}

}  // namespace
// The audit is instrumentation that benchmarks may switch off; the harness default keeps it on.
TEST(UseAfterFreeSwitch, OnByDefaultOffOnlyWhenAsked) {
  KnSimConfig sim{};
  EXPECT_TRUE(unit_config_from_sim(sim).detect_use_after_free);
  sim.skip_use_after_free_check = 1;
  ASSERT_FALSE(unit_config_from_sim(sim).detect_use_after_free);

  UnitConfig off;
  off.detect_use_after_free = false;
  Machine quiet(off);
  const PhysAddr root_top = quiet.alloc();
  quiet.map(root_top, 4, 0x1000, 0x40'0000, 12, kRW);
  quiet.set_context(kDev, 7, root_top, 4);
  quiet.enable();
  ASSERT_EQ(quiet.xlate(kDev, 0x1000, false), Fault::kNone);
  quiet.mem.free_frame(root_top);  // still linked and cached: counted only when auditing
  EXPECT_EQ(quiet.unit.use_after_free_count(), 0u);
}

}  // namespace kniommu::hw::test
