// Each mutation switch of this area, observed by the same scenario the correct code passes: the
// scenarios return whether the table behaved correctly, so the test shows both that the correct
// code passes and that each injected bug is caught (the unit tests have teeth).
#include "common/mutation.h"
#include "pt_fixture.h"

namespace kniommu::vtd {
namespace {

using namespace testing_support;

class MutantScenarios : public PageTableTest {
 protected:
  bool all_unmapped(std::uint64_t iova, std::uint64_t size, std::uint64_t step) const {
    for (std::uint64_t off = 0; off < size; off += step) {
      if (mapped(iova + off)) return false;
    }
    return true;
  }

  // Frames of an emptied table stay allocated until complete().
  bool frees_deferred() {
    EXPECT_EQ(pt_.map(1 * GiB, 0, 4 * KiB, kPermRead), rcOk);
    const auto frames = mem_.frames_in_use();
    PendingInvalidation p;
    EXPECT_EQ(pt_.unmap(1 * GiB, 4 * KiB, p), rcOk);
    const bool deferred = mem_.frames_in_use() == frames && p.frame_count() == GetParam() - 1;
    pt_.complete(p);
    return deferred && mem_.frames_in_use() == 1;
  }

  // A 4 MiB 2M-aligned range mapped with two 2 MiB pages is entirely unmapped.
  bool superpages_all_unmapped() {
    EXPECT_EQ(pt_.map(1 * GiB, 2 * GiB, 4 * MiB, kPermReadWrite), rcOk);
    EXPECT_EQ(leaf_counts(pt_)[2], 2u);
    unmap_and_complete(1 * GiB, 4 * MiB);
    return all_unmapped(1 * GiB, 4 * MiB, 2 * MiB);
  }

  // A 4 KiB-page range crossing table pages is entirely unmapped.
  bool straddling_unmap_complete() {
    const std::uint64_t iova = 0x3fe00ull << 12;
    EXPECT_EQ(pt_.map(iova, 0x10001000, 4 * MiB, kPermReadWrite), rcOk);
    unmap_and_complete(iova, 4 * MiB);
    return all_unmapped(iova, 4 * MiB, 4 * KiB);
  }

  // 2 MiB leaves on both sides of a 1 GiB boundary (so in two level-2 tables) are both unmapped:
  // the walk's superpage-leaf path (unmap_level), not the 4 KiB leaf run of the scenario above.
  bool straddling_superpage_unmap_complete() {
    const std::uint64_t iova = 1 * GiB - 2 * MiB;
    EXPECT_EQ(pt_.map(iova, 2 * GiB, 4 * MiB, kPermReadWrite), rcOk);
    EXPECT_EQ(leaf_counts(pt_)[2], 2u);
    unmap_and_complete(iova, 4 * MiB);
    return all_unmapped(iova, 4 * MiB, 2 * MiB);
  }
};

// The PSI computed for an unaligned 2-page range across a 2 MiB boundary covers both pages.
bool psi_covers_unaligned() {
  const PsiRange r = psi_for_range(0x1FF, 0x200, 18);
  const std::uint64_t base = r.addr >> kPageShift;
  return r.page_selective && base <= 0x1FF && 0x200 < base + (std::uint64_t{1} << r.am);
}

TEST_P(MutantScenarios, CorrectCodePassesEveryScenario) {
  EXPECT_TRUE(frees_deferred());
  EXPECT_TRUE(superpages_all_unmapped());
  EXPECT_TRUE(straddling_unmap_complete());
  EXPECT_TRUE(straddling_superpage_unmap_complete());
  EXPECT_TRUE(psi_covers_unaligned());
}

TEST_P(MutantScenarios, TableFreedBeforeInvalidationIsCaught) {
  if (!kMutantsCompiled) GTEST_SKIP() << "mutants not compiled";
  ScopedMutant m(Mutant::TableFreedBeforeInvalidation);
  EXPECT_FALSE(frees_deferred());
}

TEST_P(MutantScenarios, SuperpageSplitLeavesMappedIsCaught) {
  if (!kMutantsCompiled) GTEST_SKIP() << "mutants not compiled";
  ScopedMutant m(Mutant::SuperpageSplitLeavesMapped);
  EXPECT_FALSE(superpages_all_unmapped());
}

TEST_P(MutantScenarios, UnmapStopsAtTableBoundaryIsCaught) {
  if (!kMutantsCompiled) GTEST_SKIP() << "mutants not compiled";
  ScopedMutant m(Mutant::UnmapStopsAtTableBoundary);
  EXPECT_FALSE(straddling_unmap_complete());
}

TEST_P(MutantScenarios, UnmapStopsAtTableBoundaryOverSuperpagesIsCaught) {
  if (!kMutantsCompiled) GTEST_SKIP() << "mutants not compiled";
  ScopedMutant m(Mutant::UnmapStopsAtTableBoundary);
  EXPECT_FALSE(straddling_superpage_unmap_complete());
}

TEST(MutantPsi, PsiMaskTooSmallIsCaught) {
  if (!kMutantsCompiled) GTEST_SKIP() << "mutants not compiled";
  ScopedMutant m(Mutant::PsiMaskTooSmall);
  EXPECT_FALSE(psi_covers_unaligned());
}

INSTANTIATE_TEST_SUITE_P(Levels, MutantScenarios, ::testing::Values(3u, 4u, 5u),
                         [](const auto& p) { return std::to_string(p.param) + "level"; });

}  // namespace
}  // namespace kniommu::vtd
