// Queued invalidation (processing, wait descriptors, IQE) and the register file's RW / RW1C / WO
// semantics.
#include "hw/extra_regs.h"
#include "hw_fixture.h"

namespace kniommu::hw::test {
namespace {

constexpr std::uint16_t kDev = Machine::kDev;

TEST(Registers, CapabilitiesDescribeTheConfiguration) {
  UnitConfig c;
  c.sagaw = 0x2;
  c.mgaw = 39;
  c.sllps = 0x1;
  c.caching_mode = true;
  c.nd = 2;
  c.mamv = 9;
  c.nfr = 3;
  Machine m(c);
  const std::uint64_t cap = m.unit.read64(vtd::kRegCap);
  EXPECT_EQ(field_of(vtd::kCapReg, KNIOMMU_F("SAGAW"), cap), 0x2u);
  EXPECT_EQ(field_of(vtd::kCapReg, KNIOMMU_F("MGAW"), cap), 38u);
  EXPECT_EQ(field_of(vtd::kCapReg, KNIOMMU_F("SLLPS"), cap), 0x1u);
  EXPECT_EQ(field_of(vtd::kCapReg, KNIOMMU_F("CM"), cap), 1u);
  EXPECT_EQ(field_of(vtd::kCapReg, KNIOMMU_F("ND"), cap), 2u);
  EXPECT_EQ(field_of(vtd::kCapReg, KNIOMMU_F("MAMV"), cap), 9u);
  EXPECT_EQ(field_of(vtd::kCapReg, KNIOMMU_F("NFR"), cap), 3u);
  EXPECT_EQ(field_of(vtd::kCapReg, KNIOMMU_F("FRO"), cap) * 16, 0x220u);
  const std::uint64_t ecap = m.unit.read64(vtd::kRegEcap);
  EXPECT_EQ(field_of(vtd::kEcapReg, KNIOMMU_F("QI"), ecap), 1u);
  EXPECT_EQ(field_of(vtd::kEcapReg, KNIOMMU_F("IRO"), ecap) * 16, 0xF0u);
  EXPECT_EQ(m.unit.read32(vtd::kRegVer), kVersion);
  // Read-only: writes are ignored.
  m.unit.write64(vtd::kRegCap, 0);
  EXPECT_EQ(m.unit.read64(vtd::kRegCap), cap);
}

TEST(Registers, GcmdIsWriteOnlyAndGstsReportsStatus) {
  Machine m;
  m.enable();
  EXPECT_EQ(m.unit.read32(vtd::kRegGcmd), 0u);  // write-only bits read as 0
  const std::uint32_t gsts = m.gsts();
  EXPECT_EQ(field_of(vtd::kGstsReg, KNIOMMU_F("TES"), gsts), 1u);
  EXPECT_EQ(field_of(vtd::kGstsReg, KNIOMMU_F("RTPS"), gsts), 1u);
  EXPECT_EQ(field_of(vtd::kGstsReg, KNIOMMU_F("QIES"), gsts), 0u);
  // GSTS itself is read-only.
  m.unit.write32(vtd::kRegGsts, 0);
  EXPECT_EQ(m.gsts(), gsts);
  m.clear_persistent(m.te_bit());
  EXPECT_EQ(field_of(vtd::kGstsReg, KNIOMMU_F("TES"), m.gsts()), 0u);
}

TEST(Registers, RtaddrIsReadWriteWithinItsFields) {
  Machine m;
  m.unit.write64(vtd::kRegRtaddr, ~std::uint64_t{0});
  EXPECT_EQ(m.unit.read64(vtd::kRegRtaddr), mask_of(vtd::kRtaddrReg, KNIOMMU_F("RTA")) |
                                                mask_of(vtd::kRtaddrReg, KNIOMMU_F("TTM")));
  // 32-bit halves reach the same storage.
  m.unit.write32(vtd::kRegRtaddr, 0x5000);
  m.unit.write32(vtd::kRegRtaddr + 4, 0x1);
  EXPECT_EQ(m.unit.read64(vtd::kRegRtaddr), 0x1'0000'5000u);
}

TEST(Registers, FstsPfoIsWriteOneToClear) {
  Machine m;
  const PhysAddr top = m.alloc();
  m.set_context(kDev, 1, top, 4);
  m.enable();
  for (unsigned i = 0; i <= m.config_.nfr + 1; ++i) (void)m.xlate(kDev, vtd::kPageSize * i, false);
  const auto pfo = static_cast<std::uint32_t>(mask_of(vtd::kFstsReg, KNIOMMU_F("PFO")));
  ASSERT_NE(m.fsts() & pfo, 0u);
  m.unit.write32(vtd::kRegFsts, 0);  // writing 0 changes nothing
  EXPECT_NE(m.fsts() & pfo, 0u);
  m.unit.write32(vtd::kRegFsts, pfo);
  EXPECT_EQ(m.fsts() & pfo, 0u);
  // PPF is read-only: it stays while records are pending.
  m.unit.write32(vtd::kRegFsts, ~0u);
  EXPECT_EQ(field_of(vtd::kFstsReg, KNIOMMU_F("PPF"), m.fsts()), 1u);
}

TEST(Registers, RegisterInvalidationReportsGranularity) {
  Machine m;
  m.enable();
  m.reg_context_invalidate(2, 5, 0);
  const std::uint64_t ccmd = m.unit.read64(vtd::kRegCcmd);
  EXPECT_EQ(field_of(vtd::kCcmdReg, KNIOMMU_F("ICC"), ccmd), 0u);
  EXPECT_EQ(field_of(vtd::kCcmdReg, KNIOMMU_F("CAIG"), ccmd), 2u);
  EXPECT_EQ(m.reg_iotlb_invalidate(3, 5, 0x1000, 0, false), 3u);
  // AM beyond MAMV is refused (IAIG 0).
  EXPECT_EQ(m.reg_iotlb_invalidate(3, 5, 0, m.config_.mamv + 1, false), 0u);
}

class Queue : public MappedUnit {
 protected:
  void SetUp() override {
    MappedUnit::SetUp();
    status = m.alloc();
  }
  PhysAddr status = 0;
};

TEST_F(Queue, EnablingQiSetsQies) {
  EXPECT_EQ(field_of(vtd::kGstsReg, KNIOMMU_F("QIES"), m.gsts()), 1u);
  EXPECT_EQ(m.iqh(), 0u);
}

TEST_F(Queue, WaitDescriptorWritesStatusAndSignalsCompletion) {
  m.submit(Machine::iotlb_desc(2, 7));
  m.submit(Machine::wait_desc(/*sw=*/true, /*irq=*/true, 0xC0FFEE, status + 8));
  EXPECT_EQ(m.iqh(), 2u);
  std::uint32_t data = 0;
  m.mem.read(status + 8, &data, 4);
  EXPECT_EQ(data, 0xC0FFEEu);
  const auto iwc = static_cast<std::uint32_t>(mask_of(vtd::kIcsReg, KNIOMMU_F("IWC")));
  EXPECT_EQ(m.unit.read32(vtd::kRegIcs), iwc);
  const auto ip = static_cast<std::uint32_t>(mask_of(vtd::kFectlReg, KNIOMMU_F("IP")));
  EXPECT_EQ(m.unit.read32(kRegIectl) & ip, ip);  // IECTL.IM is set at reset: the event pends
  m.unit.write32(vtd::kRegIcs, iwc);             // RW1C
  EXPECT_EQ(m.unit.read32(vtd::kRegIcs), 0u);
  EXPECT_EQ(m.unit.read32(kRegIectl) & ip, 0u);  // nothing pending any more
  EXPECT_EQ(m.unit.stats().wait_descriptors, 1u);
}

TEST_F(Queue, InvalidationsTakeEffectInOrder) {
  ASSERT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNone);
  m.mem.write64(m.pte_pa(top, 4, 0x1000, 12), 0);
  m.submit(Machine::iotlb_desc(3, 7, 0x1000));
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kNoRead);
  EXPECT_EQ(m.unit.stats().iotlb_page, 1u);
}

void expect_queue_error(Machine& m, const vtd::layout::Words<2>& bad, unsigned iqei) {
  const std::uint64_t head = m.iqh();
  m.submit(bad);
  const auto iqe = static_cast<std::uint32_t>(mask_of(vtd::kFstsReg, KNIOMMU_F("IQE")));
  EXPECT_EQ(m.fsts() & iqe, iqe);
  EXPECT_EQ(m.iqh(), head);  // stays at the bad descriptor
  EXPECT_EQ(field_of(vtd::kIqercdReg, KNIOMMU_F("IQEI"), m.unit.read64(vtd::kRegIqercd)), iqei);
}

TEST_F(Queue, BadTypeStopsTheQueue) {
  vtd::layout::Words<2> bad = Machine::wait_desc(false, false, 0, 0);
  bad[0] = with_field(vtd::kWaitDesc, KNIOMMU_F("TYPE"), bad[0], 0x4);  // IEC: no ECAP.IR
  expect_queue_error(m, bad, 3);
  // Later descriptors are not processed while IQE is pending.
  m.submit(Machine::wait_desc(true, false, 1, status));
  EXPECT_EQ(m.mem.read64(status), 0u);
}

TEST_F(Queue, ReservedBitsStopTheQueue) {
  vtd::layout::Words<2> bad = Machine::iotlb_desc(2, 7);
  bad[0] |= mask_of(vtd::kIotlbDesc, KNIOMMU_F("RSVD_LO32"));
  expect_queue_error(m, bad, 4);
}

TEST_F(Queue, AddressMaskAboveMamvStopsTheQueue) {
  expect_queue_error(m, Machine::iotlb_desc(3, 7, 0, m.config_.mamv + 1), 4);
}

TEST_F(Queue, ClearingIqeResumesAtTheFixedDescriptor) {
  vtd::layout::Words<2> bad = Machine::iotlb_desc(2, 7);
  bad[1] |= mask_of(vtd::kIotlbDesc, KNIOMMU_F("RSVD_HI7"));
  expect_queue_error(m, bad, 4);
  // Software repairs the descriptor in place, clears IQE, and bumps the tail again.
  vtd::write_entry128(
      m.mem,
      /*queue slot 0*/ field_of(vtd::kIqaReg, KNIOMMU_F("IQA"), m.unit.read64(vtd::kRegIqa)) << 12,
      Machine::iotlb_desc(2, 7));
  m.unit.write32(vtd::kRegFsts,
                 static_cast<std::uint32_t>(mask_of(vtd::kFstsReg, KNIOMMU_F("IQE"))));
  m.submit(Machine::wait_desc(true, false, 5, status));
  EXPECT_EQ(m.iqh(), 2u);
  EXPECT_EQ(m.mem.read64(status), 5u);
}

TEST_F(Queue, RegisterInvalidationIsRefusedWhileQiIsOn) {
  m.reg_context_invalidate(1, 0, 0);
  EXPECT_EQ(field_of(vtd::kCcmdReg, KNIOMMU_F("ICC"), m.unit.read64(vtd::kRegCcmd)), 1u);
  (void)m.reg_iotlb_invalidate(1, 0, 0, 0, false);
  const std::uint32_t iotlb_reg = m.config_.iro * 16 + vtd::kIotlbRegFromIva;
  EXPECT_EQ(field_of(vtd::kIotlbReg, KNIOMMU_F("IVT"), m.unit.read64(iotlb_reg)), 1u);
  EXPECT_EQ(m.unit.stats().register_invalidations_refused, 2u);
}

}  // namespace
}  // namespace kniommu::hw::test
