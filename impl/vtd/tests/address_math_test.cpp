// The production instantiation (uint64_t) of address_math.h against brute force.
#include <gtest/gtest.h>

#include <random>

#include "vtd/address_math.h"

namespace kniommu::vtd {
namespace {

// Smallest k such that one aligned 2^k block holds both ends, by search.
unsigned brute_mask(std::uint64_t first, std::uint64_t last) {
  for (unsigned k = 0; k < 64; ++k) {
    if ((first >> k) == (last >> k)) return k;
  }
  return 64;
}

TEST(AddressMath, PsiMaskIsMinimalAndCoveringOnSmallRanges) {
  for (std::uint64_t first = 0; first < 300; ++first) {
    for (std::uint64_t last = first; last < first + 300; ++last) {
      const auto am = static_cast<unsigned>(psi_mask<U64Ops>(first, last));
      ASSERT_EQ(am, brute_mask(first, last)) << first << ".." << last;
      const std::uint64_t base = psi_base(first, am);
      ASSERT_LE(base, first);
      ASSERT_GE(base + (std::uint64_t{1} << am) - 1, last);
    }
  }
}

TEST(AddressMath, PsiMaskUnalignedExamples) {
  // Two pages straddling a 2 MiB boundary need a 1024-page block, not a 2-page one.
  EXPECT_EQ(psi_mask<U64Ops>(0x1FF, 0x200), 10u);
  // The Linux unmap_pages case: 4 MiB at pfn 0x3fe00 crosses 0x40000, so 2^19 pages.
  EXPECT_EQ(psi_mask<U64Ops>(0x3fe00, 0x3fe00 + 1023), 19u);
  EXPECT_EQ(psi_mask<U64Ops>(5, 5), 0u);
  EXPECT_EQ(psi_mask<U64Ops>(0, ~std::uint64_t{0}), 64u);
  EXPECT_EQ(psi_mask<U64Ops>(std::uint64_t{1} << 63, ~std::uint64_t{0}), 63u);
}

TEST(AddressMath, SplitAndRecombineRoundTrip) {
  std::mt19937_64 rng(7);
  for (unsigned levels : {3u, 4u, 5u}) {
    const unsigned width = kOffsetBits + kLevelBits * levels;
    for (int i = 0; i < 2000; ++i) {
      const std::uint64_t iova = rng() & ((std::uint64_t{1} << width) - 1);
      std::array<std::uint64_t, 5> idx{};
      for (unsigned l = 1; l <= levels; ++l) idx[l - 1] = level_index<U64Ops>(iova, l);
      ASSERT_TRUE(fits_width<U64Ops>(iova, width));
      ASSERT_EQ(recombine<U64Ops>(idx, page_offset<U64Ops>(iova), levels), iova);
    }
  }
  EXPECT_EQ(level_index<U64Ops>(0x0000'7FFF'FFFF'F000, 4), 0xFFu);
  EXPECT_EQ(level_index<U64Ops>(0x40201000, 1), 1u);
  EXPECT_EQ(level_index<U64Ops>(0x40201000, 2), 1u);
  EXPECT_EQ(level_index<U64Ops>(0x40201000, 3), 1u);
  EXPECT_FALSE(fits_width<U64Ops>(std::uint64_t{1} << 48, 48));
  EXPECT_EQ(level_size(3), std::uint64_t{1} << 30);
}

}  // namespace
}  // namespace kniommu::vtd
