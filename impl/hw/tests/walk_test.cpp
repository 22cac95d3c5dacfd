// Hand-built tables translate as the specification says, at every depth and page size.
#include <tuple>

#include "hw_fixture.h"

namespace kniommu::hw::test {
namespace {

struct Shape {
  unsigned levels;
  unsigned shift;
};

class WalkAtEveryLevel : public ::testing::TestWithParam<std::tuple<unsigned, unsigned>> {};

UnitConfig config_for_levels(unsigned levels) {
  UnitConfig c;
  c.sagaw = 1u << (levels - 2);
  c.mgaw = 30 + 9 * (levels - 2);
  return c;
}

TEST_P(WalkAtEveryLevel, TranslatesEveryPageSize) {
  const auto [levels, shift] = GetParam();
  Machine m(config_for_levels(levels));
  const PhysAddr top = m.alloc();
  const std::uint64_t size = std::uint64_t{1} << shift;
  // An IOVA with a non-zero index at every level, aligned to the page size.
  const std::uint64_t iova =
      ((std::uint64_t{0x5A5} << 12) | (std::uint64_t{3} << 21) | (std::uint64_t{5} << 30) |
       (levels >= 4 ? std::uint64_t{7} << 39 : 0) | (levels >= 5 ? std::uint64_t{9} << 48 : 0)) &
      ~(size - 1);
  const PhysAddr page = 3 * kGiB;  // beyond anything the allocator has handed out
  m.map(top, levels, iova, page, shift, kRW);
  m.set_context(Machine::kDev, 5, top, levels);
  m.enable();

  PhysAddr pa = 0;
  EXPECT_EQ(m.xlate(Machine::kDev, iova + 0x123, false, &pa), Fault::kNone);
  EXPECT_EQ(pa, page + 0x123);
  EXPECT_EQ(m.xlate(Machine::kDev, iova + size - 8, true, &pa), Fault::kNone);
  EXPECT_EQ(pa, page + size - 8);
  // Just past the page: unmapped (or outside the width for the last page of a tiny space).
  const Fault next = m.xlate(Machine::kDev, iova + size, false, &pa);
  EXPECT_TRUE(next == Fault::kNoRead || next == Fault::kBeyondAddressWidth);

  const auto snap = m.unit.cache_snapshot();
  bool found = false;
  for (const auto& e : snap) {
    if (e.kind == 1 && e.iova == iova) {
      found = true;
      EXPECT_EQ(e.size, size);
      EXPECT_EQ(e.pa, page);
      EXPECT_EQ(e.did, 5);
      EXPECT_EQ(e.perms, kRW);
    }
  }
  EXPECT_TRUE(found);
}

INSTANTIATE_TEST_SUITE_P(LevelsAndSizes, WalkAtEveryLevel,
                         ::testing::Combine(::testing::Values(3u, 4u, 5u),
                                            ::testing::Values(12u, 21u, 30u)));

// kDev (DID 1) with one 4 KiB page iova -> pa in a 4-level table, translation on.
void enable_with_one_page(Machine& m, std::uint64_t iova, PhysAddr pa, std::uint8_t perms) {
  const PhysAddr top = m.alloc();
  m.map(top, 4, iova, pa, 12, perms);
  m.set_context(Machine::kDev, 1, top, 4);
  m.enable();
}

// Where a read of kDev at `iova` goes; a fault fails the test (and reads as ~0).
PhysAddr read_target(Machine& m, std::uint64_t iova) {
  PhysAddr pa = 0;
  const Fault f = m.xlate(Machine::kDev, iova, false, &pa);
  EXPECT_EQ(f, Fault::kNone) << "iova 0x" << std::hex << iova;
  return f == Fault::kNone ? pa : ~PhysAddr{0};
}

TEST(Walk, PermissionsAreAndedAcrossLevels) {
  Machine m;
  const PhysAddr top = m.alloc();
  m.map(top, 4, 0x1000, 0x40'0000, 12, kRW);
  // Make the PDE read-only: the RW leaf under it must not be writable.
  const PhysAddr pde = m.pte_pa(top, 4, 0x1000, 21);
  m.mem.write64(pde, with_field(vtd::kSlTableEntry, KNIOMMU_F("W"), m.mem.read64(pde), 0));
  m.set_context(Machine::kDev, 1, top, 4);
  m.enable();
  EXPECT_EQ(m.xlate(Machine::kDev, 0x1000, false), Fault::kNone);
  EXPECT_EQ(m.xlate(Machine::kDev, 0x1000, true), Fault::kNoWrite);
}

// The walk of a write that starts below a cached read-only non-leaf entry (the paging-structure
// cache keeps the permissions ANDed down to it) faults although every entry it reads itself is
// writable.
TEST(Walk, AWalkFromACachedReadOnlyEntryCannotWrite) {
  Machine m;
  const PhysAddr top = m.alloc();
  m.map(top, 4, 0x1000, 0x40'0000, 12, kRW);
  m.map(top, 4, 0x2000, 0x41'0000, 12, kRW);
  const PhysAddr pde = m.pte_pa(top, 4, 0x1000, 21);
  m.mem.write64(pde, with_field(vtd::kSlTableEntry, KNIOMMU_F("W"), m.mem.read64(pde), 0));
  m.set_context(Machine::kDev, 1, top, 4);
  m.enable();
  ASSERT_EQ(m.xlate(Machine::kDev, 0x1000, false), Fault::kNone);  // caches the PDE, read-only
  const UnitStats before = m.unit.stats();
  EXPECT_EQ(m.xlate(Machine::kDev, 0x2000, true), Fault::kNoWrite);
  EXPECT_EQ(m.unit.stats().iotlb_misses, before.iotlb_misses + 1);  // it walked: no IOTLB entry
  PhysAddr pa = 0;
  EXPECT_EQ(m.xlate(Machine::kDev, 0x2000, false, &pa), Fault::kNone);
  EXPECT_EQ(pa, 0x41'0000u);
}

TEST(Walk, ReadOnlyAndWriteOnlyLeaves) {
  Machine m;
  const PhysAddr top = m.alloc();
  m.map(top, 4, 0x1000, 0x40'0000, 12, kR);
  m.map(top, 4, 0x2000, 0x41'0000, 12, kW);
  m.set_context(Machine::kDev, 1, top, 4);
  m.enable();
  EXPECT_EQ(m.xlate(Machine::kDev, 0x1000, false), Fault::kNone);
  EXPECT_EQ(m.xlate(Machine::kDev, 0x1000, true), Fault::kNoWrite);
  EXPECT_EQ(m.xlate(Machine::kDev, 0x2000, true), Fault::kNone);
  EXPECT_EQ(m.xlate(Machine::kDev, 0x2000, false), Fault::kNoRead);
}

TEST(Walk, SuperpageSizesNotAdvertisedAreReserved) {
  UnitConfig c;
  c.sllps = 0x1;  // 2 MiB only
  Machine m(c);
  const PhysAddr top = m.alloc();
  m.map(top, 4, 0, 0x4000'0000, 30, kRW);       // 1 GiB leaf: PS reserved at level 3
  m.map(top, 4, 1 * kGiB, 0x20'0000, 21, kRW);  // 2 MiB leaf: fine
  m.set_context(Machine::kDev, 1, top, 4);
  m.enable();
  EXPECT_EQ(m.xlate(Machine::kDev, 0x1234, false), Fault::kSlReserved);
  EXPECT_EQ(m.xlate(Machine::kDev, 1 * kGiB + 0x1234, false), Fault::kNone);
}

TEST(Walk, PsAtLevelFourIsReserved) {
  Machine m;
  const PhysAddr top = m.alloc();
  m.mem.write64(top, with_field(vtd::kSlTableEntry, KNIOMMU_F("PS"), sl_table_entry(m.alloc()), 1));
  m.set_context(Machine::kDev, 1, top, 4);
  m.enable();
  EXPECT_EQ(m.xlate(Machine::kDev, 0x1000, false), Fault::kSlReserved);
}

TEST(Walk, TranslationOffMeansPhysicalAddresses) {
  Machine m;
  m.enable(/*translation=*/false);
  PhysAddr pa = 0;
  EXPECT_EQ(m.xlate(Machine::kDev, 0x1234'5678, true, &pa), Fault::kNone);
  EXPECT_EQ(pa, 0x1234'5678u);
}

// TE is persistent both ways: after it is cleared, a page translated before passes through
// untranslated, and setting it again translates again (GSTS.TES follows, VT-d spec §10.4.4).
TEST(Walk, ClearingTeStopsTranslationAndSettingItResumes) {
  Machine m;
  enable_with_one_page(m, 0x1000, 0x40'0000, kRW);
  EXPECT_EQ(read_target(m, 0x1010), 0x40'0010u);
  m.clear_persistent(m.te_bit());
  EXPECT_EQ(m.gsts() & m.te_bit(), 0u);
  EXPECT_EQ(read_target(m, 0x1010), 0x1010u);
  m.set_persistent(m.te_bit());
  EXPECT_EQ(read_target(m, 0x1010), 0x40'0010u);
}

TEST(Walk, PassThroughWhenAdvertised) {
  UnitConfig c;
  c.pass_through = true;
  Machine m(c);
  m.set_context(Machine::kDev, 1, 0, 4, /*tt=*/2);
  m.enable();
  PhysAddr pa = 0;
  EXPECT_EQ(m.xlate(Machine::kDev, 0x7654'3000, false, &pa), Fault::kNone);
  EXPECT_EQ(pa, 0x7654'3000u);
}

TEST(Walk, NeighbourInTheSamePageIsReachable) {
  // Permission is per 4 KiB page (VT-d spec §3.7): expected behaviour, not a bug.
  Machine m;
  enable_with_one_page(m, 0x5000, 0x50'0000, kR);
  EXPECT_EQ(read_target(m, 0x5FFF), 0x50'0FFFu);
}

}  // namespace
}  // namespace kniommu::hw::test
