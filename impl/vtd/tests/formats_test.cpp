// Encodings of the VT-d structures against constants computed by hand from the spec notes
// (VT-d spec ch. 9, §10.4) and QEMU's reserved masks (intel_iommu_internal.h).
#include <gtest/gtest.h>

#include "vtd/caps.h"
#include "vtd/entries.h"
#include "vtd/sl_masks.h"

namespace kniommu::vtd {
namespace {

namespace hana = boost::hana;

constexpr std::uint64_t haw_mask(unsigned haw) { return (std::uint64_t{1} << haw) - 1; }

TEST(Formats, ContextEntryEncoding) {
  ContextEntry ce;
  ce.set_did(0x1234).set_aw(2).set_slptptr(0x12345000).set_present(1);
  EXPECT_EQ(ce.w[0], 0x0000000012345001u);
  EXPECT_EQ(ce.w[1], 0x0000000000123402u);
  EXPECT_TRUE(ce.reserved_clear());
  ce.set_tt(static_cast<std::uint64_t>(TranslationType::kPassThrough)).set_fpd(1);
  EXPECT_EQ(ce.w[0], 0x000000001234500Bu);
  EXPECT_EQ(ce.slptptr(), 0x12345000u);
  EXPECT_EQ(ce.did(), 0x1234u);
}

TEST(Formats, QemuContextAndRootMasks) {
  using CE = decltype(kContextEntry);
  using RE = decltype(kRootEntry);
  EXPECT_EQ(CE::reserved_mask(1), 0xFFFFFFFFFF000080u);  // VTD_CONTEXT_ENTRY_RSVD_HI
  const unsigned haw = 39;
  const std::uint64_t above = ~haw_mask(haw);
  // QEMU: lo 0xFF0 | ~HAW_MASK for the context entry, 0xFFE | ~HAW_MASK for the root entry.
  EXPECT_EQ(CE::reserved_mask(0) | (CE::mask_of(KNIOMMU_F("SLPTPTR")) & above), 0xFF0 | above);
  EXPECT_EQ(RE::reserved_mask(0) | (RE::mask_of(KNIOMMU_F("CTP")) & above), 0xFFE | above);
  EXPECT_EQ(RE::reserved_mask(1), ~std::uint64_t{0});
  RootEntry re;
  re.set_context_table(0x7000).set_present(1);
  EXPECT_EQ(re.w[0], 0x7001u);
  EXPECT_EQ(re.w[1], 0u);
}

TEST(Formats, DescriptorReservedMasksMatchQemu) {
  EXPECT_EQ(decltype(kIotlbDesc)::reserved_mask(0),
            0xffffffff0000ff00u);                             // VTD_INV_DESC_IOTLB_RSVD_LO
  EXPECT_EQ(decltype(kIotlbDesc)::reserved_mask(1), 0xf80u);  // VTD_INV_DESC_IOTLB_RSVD_HI
  EXPECT_EQ(decltype(kContextCacheDesc)::reserved_mask(0),
            0xfffc00000000ffc0u);                          // VTD_INV_DESC_CC_RSVD
  EXPECT_EQ(decltype(kWaitDesc)::reserved_mask(1), 0x3u);  // VTD_INV_DESC_WAIT_RSVD_HI
}

TEST(Formats, DescriptorEncodings) {
  IotlbDesc d;
  d.set_type(kDescIotlb).set_granularity(3).set_did(0x42).set_dr(1).set_dw(1).set_am(9).set_ih(1);
  d.set_addr_field(0x40000000 >> 12);
  EXPECT_EQ(d.w[0], 0x00000000004200F2u);
  EXPECT_EQ(d.w[1], 0x0000000040000049u);
  WaitDesc wd;
  wd.set_type(kDescWait)
      .set_status_write(1)
      .set_status_data(0xDEADBEEF)
      .set_saddr_field(0x1000 >> 2);
  EXPECT_EQ(wd.w[0], 0xDEADBEEF00000025u);
  EXPECT_EQ(wd.w[1], 0x1000u);
  ContextCacheDesc cc;
  cc.set_type(kDescContextCache).set_granularity(3).set_did(7).set_sid(0x0108).set_fm(0);
  EXPECT_EQ(cc.w[0], 0x0000010800070031u);
}

TEST(Formats, SlEntryEncodings) {
  using P4 = decltype(kSlPte4K);
  auto pte = P4::encode(hana::make_pair(KNIOMMU_F("R"), 1u), hana::make_pair(KNIOMMU_F("W"), 1u),
                        hana::make_pair(KNIOMMU_F("ADDR"), 0x1234u));
  EXPECT_EQ(pte[0], 0x1234003u);
  using P2 = decltype(kSlPte2M);
  auto big = P2::encode(hana::make_pair(KNIOMMU_F("R"), 1u), hana::make_pair(KNIOMMU_F("PS"), 1u),
                        hana::make_pair(KNIOMMU_F("ADDR"), 0x40000000u >> 21));
  EXPECT_EQ(big[0], 0x40000081u);
  EXPECT_EQ(P2::reserved_mask(0), 0x1FF000u);
  EXPECT_EQ(decltype(kSlPte1G)::reserved_mask(0), 0x3FFFF000u);
}

// QEMU's vtd_spte_rsvd[] / vtd_spte_rsvd_large[] formulas, written independently of the layouts.
struct QemuMasks {
  std::uint64_t l1, l2, l3, l4, large2, large3;
};
QemuMasks qemu_masks(unsigned aw, bool dt, bool sc) {
  const std::uint64_t ign_com = 0xBFF0000000000000;
  const std::uint64_t tm = std::uint64_t{1} << 62;
  const std::uint64_t hm = haw_mask(aw);
  QemuMasks m{};
  m.l1 = 0x800 | ~(hm | ign_com | (dt ? tm : 0));
  m.l2 = 0x800 | ~(hm | ign_com);
  m.l3 = 0x800 | ~(hm | ign_com);
  m.l4 = 0x880 | ~(hm | ign_com);
  m.large2 = 0x1ff800 | ~(hm | ign_com | (dt ? tm : 0));
  m.large3 = 0x3ffff800 | ~(hm | ign_com | (dt ? tm : 0));
  if (sc) {
    m.l1 &= ~std::uint64_t{0x800};
    m.large2 &= ~std::uint64_t{0x800};
    m.large3 &= ~std::uint64_t{0x800};
  }
  return m;
}

TEST(Formats, SlReservedMasksMatchQemu) {
  for (unsigned haw : {39u, 46u, 48u, 52u}) {
    for (bool dt : {false, true}) {
      for (bool sc : {false, true}) {
        SCOPED_TRACE(testing::Message() << "haw=" << haw << " dt=" << dt << " sc=" << sc);
        const auto m = derive_sl_masks(SlFormat{haw, sc, dt, true, true});
        const auto q = qemu_masks(haw, dt, sc);
        const std::uint64_t ps = 0x80;
        EXPECT_EQ(m.reserved(1, 0), q.l1);
        EXPECT_EQ(m.reserved(2, 0), q.l2);
        EXPECT_EQ(m.reserved(3, 0), q.l3);
        EXPECT_EQ(m.reserved(4, 0), q.l4);
        EXPECT_EQ(m.reserved(5, 0), q.l4);
        EXPECT_EQ(m.reserved(2, ps), q.large2);
        EXPECT_EQ(m.reserved(3, ps), q.large3);
        EXPECT_EQ(m.reserved(4, ps), q.l4);  // PS itself is reserved at level 4
      }
    }
  }
  // Superpage sizes the unit does not advertise make PS reserved.
  const auto no_super = derive_sl_masks(SlFormat{48, false, false, false, false});
  EXPECT_NE(no_super.reserved(2, 0x80) & 0x80, 0u);
  EXPECT_FALSE(no_super.reserved_clear(2, 0x81));
  EXPECT_TRUE(SlReservedMasks::is_leaf(2, 0x81));
  EXPECT_FALSE(SlReservedMasks::is_leaf(4, 0x81));
}

TEST(Formats, CapDecodingAndLevelSelection) {
  // ND=6 (64K DIDs), SAGAW=3/4-level, MGAW=47 (48 bits), SLLPS=2M+1G, PSI, MAMV=18.
  const std::uint64_t raw = 6 | (0x6u << 8) | (47u << 16) | (std::uint64_t{3} << 34) |
                            (std::uint64_t{1} << 39) | (std::uint64_t{18} << 48);
  const auto cap = CapReg::from(raw);
  EXPECT_EQ(cap.domain_count(), 65536u);
  EXPECT_EQ(cap.mgaw_bits(), 48u);
  EXPECT_TRUE(cap.superpage_2m() && cap.superpage_1g());
  EXPECT_EQ(cap.mamv(), 18u);
  EXPECT_EQ(select_levels(cap), 4u);
  // 57-bit MGAW but only 3/4-level tables: the highest supported below wins (not the lowest).
  EXPECT_EQ(select_levels(CapReg::from((0x6u << 8) | (56u << 16))), 4u);
  EXPECT_EQ(select_levels(CapReg::from((0xEu << 8) | (56u << 16))), 5u);
  // 48-bit MGAW with 5-level support: 4 levels are enough.
  EXPECT_EQ(select_levels(CapReg::from((0xEu << 8) | (47u << 16))), 4u);
  EXPECT_EQ(select_levels(CapReg::from((0x2u << 8) | (47u << 16))), 3u);
  EXPECT_EQ(select_levels(CapReg::from((0x1u << 8) | (47u << 16))), 0u);
  EXPECT_EQ(aw_for_levels(4), 2u);
  EXPECT_EQ(width_for_levels(3), 39u);
}

TEST(Formats, FaultRecordDecoding) {
  FaultRecord fr;
  fr.w[0] = 0x0000000012345000;
  fr.w[1] = 0x8000000600000108;  // F=1, T=0 (write), FR=6, SID=0x0108
  EXPECT_EQ(fr.fault_addr(), 0x12345000u);
  EXPECT_EQ(fr.sid(), 0x108u);
  EXPECT_EQ(fr.reason(), 6u);
  EXPECT_EQ(fr.type_read(), 0u);
  EXPECT_EQ(fr.fault(), 1u);
}

}  // namespace
}  // namespace kniommu::vtd
