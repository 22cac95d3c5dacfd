// Unit tests of the driver's pure parts: capability decoding, descriptor encodings, the DID
// allocator and the PSI/DSI policy. The driver against the emulated unit is tested in impl/kos.
#include <gtest/gtest.h>

#include "common/failpoint.h"
#include "vtd/driver/descriptors.h"
#include "vtd/driver/domain_id_allocator.h"
#include "vtd/driver/registers.h"

namespace kniommu::vtd::driver {
namespace {

std::uint64_t cap_value(unsigned nd, unsigned sagaw, unsigned mgaw, unsigned sllps, bool cm,
                        unsigned mamv, bool psi) {
  return nd | (cm ? 1ull << 7 : 0) | (std::uint64_t{sagaw} << 8) | (std::uint64_t{mgaw - 1} << 16) |
         (std::uint64_t{sllps} << 34) | (psi ? 1ull << 39 : 0) | (std::uint64_t{mamv} << 48);
}

TEST(DecodeCaps, PicksDeepestLevelThatMgawAllows) {
  struct Case {
    std::uint64_t cap, ecap;
    unsigned levels, address_width;
    std::uint32_t domain_ids, sllps;
    bool psi;
    unsigned mamv;
    bool caching_mode, coherent, queued_invalidation;
  };
  const Case cases[] = {
      // SAGAW 4+5 levels, MGAW 48: 4 levels; ECAP.C and ECAP.QI set.
      {cap_value(6, 0x4 | 0x8, 48, 3, false, 18, true), 0x3, 4, 48, 65536, 3, true, 18, false, true,
       true},
      {cap_value(2, 0x8, 57, 0, true, 9, false), 0x2, 5, 57, 256, 0, false, 9, true, false, true},
      {cap_value(0, 0x2, 39, 1, false, 0, true), 0x2, 3, 39, 16, 1, true, 0, false, false, true},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(testing::Message() << "cap " << std::hex << k.cap);
    const UnitCaps c = UnitCaps::decode(k.cap, k.ecap);
    EXPECT_EQ(c.levels, k.levels);
    EXPECT_EQ(c.address_width, k.address_width);
    EXPECT_EQ(c.domain_ids(), k.domain_ids);
    EXPECT_EQ(c.sllps(), k.sllps);
    EXPECT_EQ(c.psi(), k.psi);
    EXPECT_EQ(c.mamv(), k.mamv);
    EXPECT_EQ(c.caching_mode(), k.caching_mode);
    EXPECT_EQ(c.coherent(), k.coherent);
    EXPECT_EQ(c.queued_invalidation(), k.queued_invalidation);
  }
  // No SAGAW level at all: no usable depth.
  EXPECT_EQ(UnitCaps::decode(cap_value(0, 0, 48, 0, false, 0, true), 0x2).levels, 0u);
}

TEST(Descriptors, Encodings) {
  const QiDescriptor cc = desc::context_cache_device(7, 0x0108);
  EXPECT_EQ(cc.lo, 0x1ull | (3ull << 4) | (7ull << 16) | (0x0108ull << 32));
  EXPECT_EQ(cc.hi, 0u);
  EXPECT_EQ(desc::context_cache_global().lo, 0x1ull | (1ull << 4));
  const QiDescriptor psi = desc::iotlb_page(5, 0x200000, 9, true, true, false);
  EXPECT_EQ(psi.lo, 0x2ull | (3ull << 4) | (1ull << 7) | (5ull << 16));
  EXPECT_EQ(psi.hi, 0x200000ull | (1ull << 6) | 9);
  const QiDescriptor dsi = desc::iotlb_domain(5, false, true);
  EXPECT_EQ(dsi.lo, 0x2ull | (2ull << 4) | (1ull << 6) | (5ull << 16));
  EXPECT_EQ(dsi.hi, 0u);  // address only for PSI
  const QiDescriptor w = desc::wait_with_status(0x5000, 42);
  EXPECT_EQ(w.lo & 0xFFFFFFFFull & ~(1ull << 6), 0x5ull | (1ull << 5));  // FN (bit 6) may be set
  EXPECT_EQ(w.lo >> 32, 42u);
  EXPECT_EQ(w.hi, 0x5000u);
}

TEST(DomainIdAllocator, LowestFreeFromOneAndReuse) {
  DomainIdAllocator a(16);
  EXPECT_EQ(a.capacity(), 15u);
  std::uint16_t d = 0;
  for (std::uint16_t want = 1; want < 16; ++want) {
    ASSERT_EQ(a.allocate(&d), rcOk);
    EXPECT_EQ(d, want);
  }
  EXPECT_EQ(a.allocate(&d), rcOutOfMemory);
  a.release(9);
  a.release(3);
  ASSERT_EQ(a.allocate(&d), rcOk);
  EXPECT_EQ(d, 3);
  ASSERT_EQ(a.allocate(&d), rcOk);
  EXPECT_EQ(d, 9);
  a.release(0);  // reserved: never released, never handed out
  EXPECT_TRUE(a.in_use(0));
  EXPECT_EQ(a.allocate(&d), rcOutOfMemory);
}

TEST(DomainIdAllocator, FullSixteenBitSpaceAndFailpoint) {
  DomainIdAllocator a(65536);
  std::uint16_t d = 0;
  for (std::uint32_t i = 1; i < 65536; ++i) ASSERT_EQ(a.allocate(&d), rcOk);
  EXPECT_EQ(d, 65535);
  EXPECT_EQ(a.allocate(&d), rcOutOfMemory);
  a.release(40000);
  failpoint_arm(1);
  EXPECT_EQ(a.allocate(&d), rcOutOfMemory);  // injected: nothing taken
  failpoint_disarm();
  EXPECT_FALSE(a.in_use(40000));
  ASSERT_EQ(a.allocate(&d), rcOk);
  EXPECT_EQ(d, 40000);
}

}  // namespace
}  // namespace kniommu::vtd::driver
