// SecondLevelPageTable, in the spirit of Linux's generic page-table KUnit suite and
// arm_lpae_run_tests: every page size at every depth, overmap refusal, table-straddling unmap,
// partial superpage unmap, remap, frame accounting, deferred frees.
#include <map>

#include "common/failpoint.h"
#include "pt_fixture.h"

namespace kniommu::vtd {
namespace {

using namespace testing_support;

TEST_P(PageTableTest, EmptyTableTranslatesNothing) {
  Translation t;
  EXPECT_EQ(pt_.translate(0, &t), rcResourceNotFound);
  EXPECT_EQ(pt_.translate(123 * GiB + 42, &t), rcResourceNotFound);
  EXPECT_EQ(pt_.table_frames(), 1u);
  EXPECT_EQ(mem_.frames_in_use(), 1u);
}

TEST_P(PageTableTest, EveryPageSize) {
  struct Case {
    std::uint64_t size;
    unsigned level;
  };
  const Case cases[] = {{4 * KiB, 1}, {2 * MiB, 2}, {1 * GiB, 3}};
  std::uint64_t k = 1;
  for (const Case& c : cases) {
    const std::uint64_t iova = k * GiB;
    const PhysAddr pa = (k + 8) * GiB;
    ASSERT_EQ(pt_.map(iova, pa, c.size, kPermRead), rcOk);
    Translation t;
    ASSERT_EQ(pt_.translate(iova + 42, &t), rcOk);
    EXPECT_EQ(t.pa, pa + 42);
    EXPECT_EQ(t.page_size, c.size);
    EXPECT_EQ(t.level, c.level);
    EXPECT_EQ(t.perms, std::uint32_t{kPermRead});
    EXPECT_EQ(leaf_counts(pt_)[c.level], 1u);
    ++k;
  }
  // Also at the top of the address space.
  const std::uint64_t top = (std::uint64_t{1} << width_for_levels(GetParam())) - 2 * MiB;
  ASSERT_EQ(pt_.map(top, 0x200000, 2 * MiB, kPermReadWrite), rcOk);
  EXPECT_TRUE(mapped(top + 2 * MiB - 1));
  EXPECT_EQ(pt_.map(top + 2 * MiB, 0, 4 * KiB, kPermRead), rcInvalidArgument);
}

TEST_P(PageTableTest, MixedSizesFollowAlignment) {
  // 2M + 1G + 2M around a 1 GiB boundary (generic_pt test_mixed, the 2025 Linux superpage bug).
  const std::uint64_t iova = 1 * GiB - 2 * MiB;
  ASSERT_EQ(pt_.map(iova, iova, 1 * GiB + 4 * MiB, kPermReadWrite), rcOk);
  const auto n = leaf_counts(pt_);
  EXPECT_EQ(n[1], 0u);
  EXPECT_EQ(n[2], 2u);
  EXPECT_EQ(n[3], 1u);
  EXPECT_FALSE(mapped(iova - 4 * KiB));
  EXPECT_TRUE(mapped(iova));
  EXPECT_TRUE(mapped(2 * GiB + 2 * MiB - 1));
  EXPECT_FALSE(mapped(2 * GiB + 2 * MiB));
}

TEST_P(PageTableTest, SuperpagesOnlyWhereSllpsAllows) {
  SecondLevelPageTable small(mem_, config_for(GetParam(), false, false));
  ASSERT_EQ(small.init(), rcOk);
  ASSERT_EQ(small.map(0, 0, 4 * MiB, kPermRead), rcOk);
  EXPECT_EQ(leaf_counts(small)[1], 1024u);
  SecondLevelPageTable only2m(mem_, config_for(GetParam(), true, false));
  ASSERT_EQ(only2m.init(), rcOk);
  ASSERT_EQ(only2m.map(0, 0, 1 * GiB, kPermRead), rcOk);
  EXPECT_EQ(leaf_counts(only2m)[2], 512u);
  EXPECT_EQ(leaf_counts(only2m)[3], 0u);
}

TEST_P(PageTableTest, OvermapIsRefusedAndChangesNothing) {
  ASSERT_EQ(pt_.map(2 * MiB, 0, 2 * MiB, kPermRead), rcOk);
  const auto before = snapshot(pt_);
  const auto frames = mem_.frames_in_use();
  EXPECT_EQ(pt_.map(2 * MiB + 4 * KiB, 0, 4 * KiB, kPermRead), rcAlreadyExists);
  // Overlapping only at the end: the free front part must not get mapped either.
  EXPECT_EQ(pt_.map(0, 0, 2 * MiB + 4 * KiB, kPermRead), rcAlreadyExists);
  EXPECT_EQ(pt_.map(1 * GiB - 4 * KiB, 0, 8 * KiB, kPermRead), rcOk);  // unrelated
  EXPECT_FALSE(mapped(0));
  EXPECT_EQ(pt_.map(1 * GiB, 0, 4 * KiB, kPermRead), rcAlreadyExists);
  PendingInvalidation p;
  ASSERT_EQ(pt_.unmap(1 * GiB - 4 * KiB, 8 * KiB, p), rcOk);
  pt_.complete(p);
  EXPECT_EQ(snapshot(pt_), before);
  EXPECT_EQ(mem_.frames_in_use(), frames);
}

// The direct path's emptiness check reads the run several entries per step: a single present
// page at any position of a run of any length from 1 to 12 refuses the run and changes nothing.
TEST_P(PageTableTest, AConflictAtAnyPositionOfARunRefusesIt) {
  ASSERT_EQ(pt_.map(1 * GiB + 400 * KiB, 0x9000, 4 * KiB, kPermRead), rcOk);  // builds the tables
  for (unsigned n = 1; n <= 12; ++n) {
    for (unsigned k = 0; k < n; ++k) {
      const std::uint64_t run = 1 * GiB + 4 * KiB, conflict = run + 4 * KiB * k;
      ASSERT_EQ(pt_.map(conflict, 0x100000, 4 * KiB, kPermRead), rcOk);
      const auto before = snapshot(pt_);
      EXPECT_EQ(pt_.map(run, 0x300000, 4 * KiB * n, kPermRead), rcAlreadyExists)
          << "run of " << n << " pages, conflict at page " << k;
      EXPECT_EQ(snapshot(pt_), before);
      unmap_and_complete(conflict, 4 * KiB);
    }
  }
}

// Runs of 4 KiB pages inside one existing leaf table take the direct path (one walk down): a
// conflict anywhere in the run refuses the whole run, and the child count it raises must let the
// last unmap free the tables again.
TEST_P(PageTableTest, RunInsideOneLeafTable) {
  ASSERT_EQ(pt_.map(1 * GiB + 40 * KiB, 0x9000, 4 * KiB, kPermRead), rcOk);  // builds the tables
  const auto frames = mem_.frames_in_use();
  ASSERT_EQ(pt_.map(1 * GiB, 0x100000, 8 * KiB, kPermRead), rcOk);
  ASSERT_EQ(pt_.map(1 * GiB + 44 * KiB, 0x200000, 64 * KiB, kPermReadWrite), rcOk);
  EXPECT_EQ(mem_.frames_in_use(), frames);  // no table allocated
  Translation t;
  ASSERT_EQ(pt_.translate(1 * GiB + 44 * KiB + 63 * KiB, &t), rcOk);
  EXPECT_EQ(t.pa, 0x200000 + 63 * KiB);
  const auto before = snapshot(pt_);
  // Free front, mapped page in the middle (at 40 KiB), free back.
  EXPECT_EQ(pt_.map(1 * GiB + 8 * KiB, 0x300000, 40 * KiB, kPermRead), rcAlreadyExists);
  EXPECT_EQ(snapshot(pt_), before);
  EXPECT_FALSE(mapped(1 * GiB + 8 * KiB));
  unmap_and_complete(1 * GiB + 44 * KiB, 64 * KiB);
  unmap_and_complete(1 * GiB + 40 * KiB, 4 * KiB);
  EXPECT_TRUE(mapped(1 * GiB + 4 * KiB));  // the table still holds two pages
  unmap_and_complete(1 * GiB, 8 * KiB);
  EXPECT_EQ(mem_.frames_in_use(), 1u);  // the counts reached 0: every table but the root freed
}

TEST_P(PageTableTest, InvalidArgumentsAreRejected) {
  EXPECT_EQ(pt_.map(1, 0, 4 * KiB, kPermRead), rcInvalidArgument);
  EXPECT_EQ(pt_.map(0, 1, 4 * KiB, kPermRead), rcInvalidArgument);
  EXPECT_EQ(pt_.map(0, 0, 0, kPermRead), rcInvalidArgument);
  EXPECT_EQ(pt_.map(0, 0, 100, kPermRead), rcInvalidArgument);
  EXPECT_EQ(pt_.map(0, 0, 4 * KiB, kPermNone), rcInvalidArgument);
  EXPECT_EQ(pt_.map(0, 0, 4 * KiB, 4), rcInvalidArgument);
  EXPECT_EQ(pt_.map(0, std::uint64_t{1} << 48, 4 * KiB, kPermRead), rcInvalidArgument);  // >= HAW
  EXPECT_EQ(pt_.map(~std::uint64_t{0} & ~(4 * KiB - 1), 0, 8 * KiB, kPermRead), rcInvalidArgument);
  PendingInvalidation p;
  EXPECT_EQ(pt_.unmap(0, 0, p), rcInvalidArgument);
  EXPECT_EQ(pt_.unmap(4, 4 * KiB, p), rcInvalidArgument);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(snapshot(pt_).size(), 0u);
}

// A leaf table whose present entries have holes (here every 8-entry block but the first two has
// one, at a different place in each): one unmap clears every present entry after a hole too,
// counts exactly those, and frees the table.
TEST_P(PageTableTest, UnmapClearsEveryPresentEntryAroundHoles) {
  const std::uint64_t iova = 2 * MiB;
  const PhysAddr pa = 0x10001000;  // not 2M aligned: 4 KiB pages
  constexpr unsigned kPages = 64;
  unsigned mapped_pages = 0, last = 0;
  for (unsigned i = 0; i < kPages; ++i) {
    if (i >= 16 && i % 8 == (i / 8) % 8) continue;  // one hole per block from block 2 on
    ASSERT_EQ(pt_.map(iova + i * 4 * KiB, pa + i * 4 * KiB, 4 * KiB, kPermReadWrite), rcOk);
    ++mapped_pages;
    last = i;
  }
  ASSERT_EQ(leaf_counts(pt_)[1], mapped_pages);
  const auto p = unmap_and_complete(iova, kPages * 4 * KiB);
  for (unsigned i = 0; i < kPages; ++i) ASSERT_FALSE(mapped(iova + i * 4 * KiB)) << i;
  EXPECT_EQ(p.first_iova(), iova);
  EXPECT_EQ(p.last_iova(), iova + (last + 1) * 4 * KiB - 1);  // the hole at page 63 is not in it
  EXPECT_EQ(snapshot(pt_).size(), 0u);
  EXPECT_EQ(mem_.frames_in_use(), 1u);
}

TEST_P(PageTableTest, UnmapStraddlingTablePages) {
  // Linux "Fix unmap_pages support": 4 MiB at pfn 0x3fe00 crosses PT pages and a 1 GiB boundary.
  const std::uint64_t iova = 0x3fe00ull << 12;
  const PhysAddr pa = 0x10001000;  // not 2M aligned: forces 4 KiB pages
  ASSERT_EQ(pt_.map(iova, pa, 4 * MiB, kPermReadWrite), rcOk);
  EXPECT_EQ(leaf_counts(pt_)[1], 1024u);
  const auto p = unmap_and_complete(iova, 4 * MiB);
  for (std::uint64_t off = 0; off < 4 * MiB; off += 4 * KiB)
    ASSERT_FALSE(mapped(iova + off)) << off;
  EXPECT_EQ(p.first_iova(), iova);
  EXPECT_EQ(p.last_iova(), iova + 4 * MiB - 1);
  EXPECT_FALSE(p.leaf_only());
  EXPECT_EQ(snapshot(pt_).size(), 0u);
  EXPECT_EQ(mem_.frames_in_use(), 1u);
}

TEST_P(PageTableTest, PartialUnmapOfSuperpageRemovesTheWholeSuperpage) {
  ASSERT_EQ(pt_.map(2 * MiB, 64 * MiB, 4 * MiB, kPermRead), rcOk);  // two 2 MiB leaves
  PendingInvalidation p;
  ASSERT_EQ(pt_.unmap(2 * MiB + 8 * KiB, 4 * KiB, p), rcOk);
  EXPECT_FALSE(mapped(2 * MiB));
  EXPECT_FALSE(mapped(4 * MiB - 1));
  EXPECT_TRUE(mapped(4 * MiB));  // the unmap did not continue into the next superpage
  EXPECT_EQ(p.first_iova(), 2 * MiB);
  EXPECT_EQ(p.last_iova(), 4 * MiB - 1);
  EXPECT_TRUE(p.leaf_only());  // the PD still holds the second superpage
  pt_.complete(p);
}

TEST_P(PageTableTest, PartialUnmapOfSmallPagesIsExact) {
  ASSERT_EQ(pt_.map(1 * GiB, 0x5000, 16 * KiB, kPermRead), rcOk);
  PendingInvalidation p;
  ASSERT_EQ(pt_.unmap(1 * GiB + 4 * KiB, 8 * KiB, p), rcOk);
  EXPECT_TRUE(mapped(1 * GiB));
  EXPECT_FALSE(mapped(1 * GiB + 4 * KiB));
  EXPECT_FALSE(mapped(1 * GiB + 8 * KiB));
  EXPECT_TRUE(mapped(1 * GiB + 12 * KiB));
  EXPECT_EQ(p.first_iova(), 1 * GiB + 4 * KiB);
  EXPECT_EQ(p.last_iova(), 1 * GiB + 12 * KiB - 1);
  EXPECT_TRUE(p.leaf_only());
  EXPECT_EQ(p.frame_count(), 0u);
  pt_.complete(p);
  // Unmapping what is not mapped changes nothing and needs no invalidation.
  PendingInvalidation none;
  ASSERT_EQ(pt_.unmap(7 * GiB, 4 * MiB, none), rcOk);
  EXPECT_TRUE(none.empty());
}

TEST_P(PageTableTest, RemapAfterUnmap) {
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(pt_.map(1 * GiB, 2 * GiB, 1 * GiB, kPermReadWrite), rcOk);
    unmap_and_complete(1 * GiB, 1 * GiB);
    ASSERT_EQ(pt_.map(1 * GiB, 3 * GiB + 4 * KiB, 8 * MiB, kPermWrite), rcOk);
    Translation t;
    ASSERT_EQ(pt_.translate(1 * GiB + 5 * MiB + 3, &t), rcOk);
    EXPECT_EQ(t.pa, 3 * GiB + 4 * KiB + 5 * MiB + 3);
    EXPECT_EQ(t.perms, std::uint32_t{kPermWrite});
    unmap_and_complete(1 * GiB, 8 * MiB);
  }
  EXPECT_EQ(mem_.frames_in_use(), 1u);
}

TEST_P(PageTableTest, FrameAccountingOverAGibOfSmallPages) {
  ASSERT_EQ(pt_.map(0, 4 * KiB, 1 * GiB, kPermRead), rcOk);  // pa misaligned: 4 KiB pages only
  // 512 PTs, one PD, and one table per level above (all within the first 1 GiB slot).
  const std::uint64_t expected = 1 + 512 + 1 + (GetParam() - 3);
  EXPECT_EQ(pt_.table_frames(), expected);
  EXPECT_EQ(mem_.frames_in_use(), expected);
  // Per GiB mapped: the 512 PTs and the PD; the tables above are shared by every GiB.
  EXPECT_LE(static_cast<double>((expected - (GetParam() - 2)) * kPageSize) / MiB, 2.01);
  PendingInvalidation p;
  ASSERT_EQ(pt_.unmap(0, 1 * GiB, p), rcOk);
  // Deferred: nothing is freed until the invalidation completed.
  EXPECT_EQ(mem_.frames_in_use(), expected);
  EXPECT_EQ(p.frame_count(), expected - 1);
  EXPECT_EQ(pt_.table_frames(), 1u);
  EXPECT_EQ(pt_.pending_frames(), expected - 1);
  pt_.complete(p);
  EXPECT_EQ(mem_.frames_in_use(), 1u);
  EXPECT_EQ(pt_.pending_frames(), 0u);
  EXPECT_EQ(mem_.bad_free_count(), 0u);
}

TEST_P(PageTableTest, EffectivePermissionIsTheLeafsAndTablesAreReadWrite) {
  ASSERT_EQ(pt_.map(0, 0, 4 * KiB, kPermWrite), rcOk);
  Translation t;
  ASSERT_EQ(pt_.translate(0, &t), rcOk);
  EXPECT_EQ(t.perms, std::uint32_t{kPermWrite});
  for (const auto& e : snapshot(pt_)) {
    if (!VtdSsFormat::is_leaf(e.level, e.value)) {
      EXPECT_EQ(e.value & 3, 3u);
    }
  }
}

TEST_P(PageTableTest, DestructorFreesEveryFrame) {
  {
    SecondLevelPageTable other(mem_, config_for(GetParam()));
    ASSERT_EQ(other.init(), rcOk);
    ASSERT_EQ(other.map(0, 4 * KiB, 64 * MiB, kPermRead), rcOk);
    EXPECT_GT(mem_.frames_in_use(), 2u);
  }
  EXPECT_EQ(mem_.frames_in_use(), 1u);
}

// Fail-nth (iommufd_fail_nth): every allocation site failing in turn leaves the table unchanged
// and leak-free; the call eventually succeeds.
TEST_P(PageTableTest, FailNthLeavesTableUnchanged) {
  ASSERT_EQ(pt_.map(1 * GiB, 0, 4 * KiB, kPermRead), rcOk);
  const auto before = snapshot(pt_);
  const auto frames = mem_.frames_in_use();
  Retcode rc = rcOutOfMemory;
  std::uint64_t n = 1;
  for (; rc == rcOutOfMemory; ++n) {
    failpoint_arm(n);
    // New PD and three PTs (4 KiB pages: pa is not 2 MiB aligned).
    rc = pt_.map(1 * GiB - 4 * MiB - 4 * KiB, 4 * KiB, 4 * MiB, kPermRead);
    failpoint_disarm();
    if (rc == rcOutOfMemory) {
      ASSERT_EQ(snapshot(pt_), before) << "n=" << n;
      ASSERT_EQ(mem_.frames_in_use(), frames) << "n=" << n;
    }
  }
  EXPECT_EQ(rc, rcOk);
  EXPECT_GT(n, 3u);  // the call has several allocation sites; all were exercised
  unmap_and_complete(1 * GiB - 4 * MiB - 4 * KiB, 4 * MiB);
  EXPECT_EQ(snapshot(pt_), before);
}

TEST(PageTableInit, FailpointAndBadConfig) {
  hw::SimPhysMem mem(64 * MiB);
  SecondLevelPageTable pt(mem, config_for(4));
  failpoint_arm(1);
  EXPECT_EQ(pt.init(), rcOutOfMemory);
  failpoint_disarm();
  EXPECT_EQ(mem.frames_in_use(), 0u);
  EXPECT_EQ(pt.map(0, 0, 4 * KiB, kPermRead), rcNotReady);
  EXPECT_EQ(pt.init(), rcOk);
  auto bad = config_for(4);
  bad.levels = 6;
  SecondLevelPageTable pt6(mem, bad);
  EXPECT_EQ(pt6.init(), rcInvalidArgument);
}

TEST(PageTableConfigTest, FromCaps) {
  // SAGAW 3/4/5-level, MGAW 57 bits, 2M only, SC.
  const auto cap = CapReg::from((0xEu << 8) | (56u << 16) | (std::uint64_t{1} << 34));
  const auto ecap = EcapReg::from(1u << 7);
  const auto c = PageTableConfig::from_caps(cap, ecap, 46);
  EXPECT_EQ(c.levels, 5u);
  EXPECT_EQ(c.input_width, 57u);
  EXPECT_TRUE(c.format.super_2m);
  EXPECT_FALSE(c.format.super_1g);
  EXPECT_TRUE(c.format.snoop_control);
  EXPECT_EQ(c.format.haw, 46u);
  // MGAW 40 bits on a 4-level unit: 4 levels, inputs limited to 40 bits.
  const auto c40 = PageTableConfig::from_caps(CapReg::from((0x4u << 8) | (39u << 16)), ecap, 46);
  EXPECT_EQ(c40.levels, 4u);
  EXPECT_EQ(c40.input_width, 40u);
}

INSTANTIATE_TEST_SUITE_P(Levels, PageTableTest, ::testing::Values(3u, 4u, 5u),
                         [](const auto& p) { return std::to_string(p.param) + "level"; });

}  // namespace
}  // namespace kniommu::vtd
