// Invalidation helpers: PSI address/mask for unaligned ranges, MAMV fallback, IH from the pending
// record, and the descriptor encoders (checked against hand-computed words and the layouts'
// reserved masks).
#include <gtest/gtest.h>

#include "vtd/invalidation.h"

namespace kniommu::vtd {
namespace {

bool covers(const PsiRange& r, std::uint64_t first_pfn, std::uint64_t last_pfn) {
  const std::uint64_t base = r.addr >> kPageShift;
  const std::uint64_t pages = std::uint64_t{1} << r.am;
  return (base & (pages - 1)) == 0 && base <= first_pfn && last_pfn <= base + pages - 1;
}

TEST(Psi, UnalignedRangesAreCovered) {
  struct Case {
    std::uint64_t first, last;
    unsigned am;
    std::uint64_t addr;
  };
  const Case cases[] = {
      {0x10, 0x10, 0, 0x10000},  // one page
      {0x10, 0x13, 2, 0x10000},  // aligned 4 pages
      {0x1FF, 0x200, 10, 0x0},   // 2 pages across a 2 MiB boundary need 1024
      {0x3, 0x4, 3, 0x0},        // rounding the size up (AM=1) would miss page 4
      {0x5, 0xA, 4, 0x0},       {0x3fe00, 0x3fe00 + 1023, 19, 0x0},  // the Linux unmap_pages range
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << std::hex << c.first << ".." << c.last);
    const PsiRange r = psi_for_range(c.first, c.last, 20);
    ASSERT_TRUE(r.page_selective);
    EXPECT_EQ(r.am, c.am);
    EXPECT_EQ(r.addr, c.addr);
    EXPECT_TRUE(covers(r, c.first, c.last));
  }
}

TEST(Psi, FallsBackToDomainSelectiveBeyondMamv) {
  EXPECT_FALSE(psi_for_range(0x3fe00, 0x3fe00 + 1023, 18).page_selective);
  EXPECT_TRUE(psi_for_range(0, 511, 9).page_selective);
  EXPECT_FALSE(psi_for_range(0, 512, 9).page_selective);
}

TEST(Psi, FromPendingRecord) {
  PendingInvalidation p;
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(iotlb_invalidation_for(p, true, 18).granularity, Granularity::kDomain);
  p.add_range(0x200000, 0x3FFFFF);
  auto inv = iotlb_invalidation_for(p, true, 18);
  EXPECT_EQ(inv.granularity, Granularity::kDeviceOrPage);
  EXPECT_EQ(inv.addr, 0x200000u);
  EXPECT_EQ(inv.am, 9u);
  EXPECT_TRUE(inv.ih);
  p.mark_non_leaf();
  EXPECT_FALSE(iotlb_invalidation_for(p, true, 18).ih);
  EXPECT_EQ(iotlb_invalidation_for(p, false, 18).granularity, Granularity::kDomain);
  p.add_range(0x1000, 0x1FFF);  // records accumulate
  EXPECT_EQ(p.first_iova(), 0x1000u);
  EXPECT_EQ(p.last_iova(), 0x3FFFFFu);
}

TEST(Descriptors, Encodings) {
  const auto cc = cc_device_desc(0x12, 0x0310, 1);
  EXPECT_EQ(cc.w[0], 0x0001031000120031u);
  EXPECT_EQ(cc.w[1], 0u);
  EXPECT_EQ(cc_global_desc().w[0], 0x11u);
  EXPECT_EQ(cc_domain_desc(5).w[0], 0x50021u);
  const auto psi = iotlb_page_desc(0x42, 0x40000000, 9, true, true, false);
  EXPECT_EQ(psi.w[0], 0x00000000004200B2u);
  EXPECT_EQ(psi.w[1], 0x0000000040000049u);
  EXPECT_EQ(iotlb_domain_desc(7, false, false).w[0], 0x70022u);
  EXPECT_EQ(iotlb_global_desc(false, true).w[0], 0x52u);
  const auto wd = wait_desc(0x5000, 0xCAFE, false, true);
  EXPECT_EQ(wd.w[0], 0x0000CAFE00000065u);
  EXPECT_EQ(wd.w[1], 0x5000u);
  for (const auto& d : {psi, iotlb_domain_desc(0xFFFF, true, true)})
    EXPECT_TRUE(d.reserved_clear());
  EXPECT_TRUE(cc.reserved_clear());
  EXPECT_TRUE(wd.reserved_clear());
}

}  // namespace
}  // namespace kniommu::vtd
