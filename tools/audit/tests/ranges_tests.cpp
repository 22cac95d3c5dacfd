#include <gtest/gtest.h>

#include "analysis/ranges.h"

namespace kniommu::audit {
namespace {

constexpr std::uint8_t RW = kRead | kWrite;
Range page_range(std::uint64_t first_page, std::uint64_t pages, std::uint8_t perms) {
  return {first_page * 4096, pages, perms};
}

TEST(Ranges, NormalizeMergesAdjacentEqualPermissionsOnly) {
  const auto out = normalize({page_range(2, 1, RW), page_range(0, 2, RW), page_range(3, 1, kRead)});
  EXPECT_EQ(out, (std::vector<Range>{page_range(0, 3, RW), page_range(3, 1, kRead)}));
}

TEST(Ranges, NormalizeOrsPermissionsOfOverlaps) {
  const auto out = normalize({page_range(0, 4, kRead), page_range(2, 4, kWrite)});
  EXPECT_EQ(out, (std::vector<Range>{page_range(0, 2, kRead), page_range(2, 2, RW),
                                     page_range(4, 2, kWrite)}));
}

TEST(Ranges, NormalizeDropsEmptyAndPermissionless) {
  EXPECT_TRUE(normalize({page_range(0, 0, RW), page_range(5, 3, 0)}).empty());
}

TEST(Ranges, ExcessKeepsOnlyWhatIsNotAllowed) {
  const std::vector<Range> reach = {page_range(0, 4, RW)};
  const std::vector<Range> allowed = {page_range(1, 1, RW), page_range(2, 1, kRead)};
  EXPECT_EQ(
      excess(reach, allowed),
      (std::vector<Range>{page_range(0, 1, RW), page_range(2, 1, kWrite), page_range(3, 1, RW)}));
  EXPECT_TRUE(excess(allowed, reach).empty());
}

TEST(Ranges, OverlapIsWhereBothArePresent) {
  const auto out = overlap({page_range(0, 4, kRead)}, {page_range(3, 4, kWrite)});
  EXPECT_EQ(out, (std::vector<Range>{page_range(3, 1, RW)}));
  EXPECT_TRUE(overlap({page_range(0, 1, RW)}, {page_range(1, 1, RW)}).empty());
}

TEST(Ranges, SuperpageSizedRangesStayCompact) {
  const auto out = normalize({page_range(0, 262144, RW), page_range(262144, 512, RW)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(page_count(out), 262144u + 512u);
}

}  // namespace
}  // namespace kniommu::audit
