// One minimal scenario per legacy fault reason 0x1-0xE, and the fault-recording algorithm:
// FRI/PPF, overflow (PFO), RW1C clearing, FPD suppressing qualified faults only.
#include "hw_fixture.h"

namespace kniommu::hw::test {
namespace {

constexpr std::uint16_t kDev = Machine::kDev;

class Faults : public ::testing::Test {
 protected:
  // A valid 4-level context for kDev with one RW page at 0x1000.
  void SetUp() override {
    top = m.alloc();
    m.map(top, 4, 0x1000, 0x40'0000, 12, kRW);
    m.set_context(kDev, 1, top, 4);
  }
  void patch_context(unsigned word, std::uint64_t value) {
    m.mem.write64(m.context_pa(kDev) + kEntryBytes * word, value);
  }
  std::uint64_t context_word(unsigned word) {
    return m.mem.read64(m.context_pa(kDev) + kEntryBytes * word);
  }

  Machine m;
  PhysAddr top = 0;
};

TEST_F(Faults, RootNotPresent_0x1) {
  m.enable();
  EXPECT_EQ(m.xlate(0x0200, 0x1000, false), Fault::kRootNotPresent);  // bus 2 has no root entry
}

TEST_F(Faults, ContextNotPresent_0x2) {
  m.enable();
  EXPECT_EQ(m.xlate(0x0109, 0x1000, false), Fault::kContextNotPresent);  // 01:01.1
}

TEST_F(Faults, ContextInvalid_0x3_UnsupportedAw) {
  patch_context(1, with_field(vtd::kContextEntry, KNIOMMU_F("AW"), context_word(1), 3));  // 5-level
  m.enable();
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kContextInvalid);
}

TEST_F(Faults, ContextInvalid_0x3_TranslationTypes) {
  // TT=01 without ECAP.DT, TT=10 without ECAP.PT, TT=11 reserved.
  for (std::uint64_t tt : {1u, 2u, 3u}) {
    Machine fresh;
    fresh.set_context(kDev, 1, top, 4, static_cast<unsigned>(tt));
    fresh.enable();
    EXPECT_EQ(fresh.xlate(kDev, 0x1000, false), Fault::kContextInvalid) << "TT=" << tt;
  }
}

TEST_F(Faults, ContextInvalid_0x3_TopTableUnreadable) {
  m.set_context(kDev, 1, 16 * kGiB, 4);  // below HAW, beyond the 8 GiB of memory
  m.enable();
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kContextInvalid);
}

TEST_F(Faults, BeyondAddressWidth_0x4) {
  m.enable();
  EXPECT_EQ(m.xlate(kDev, std::uint64_t{1} << 48, false), Fault::kBeyondAddressWidth);
  // min(MGAW, AGAW): a 48-bit context on a unit with MGAW 39 stops at 2^39.
  UnitConfig c;
  c.sagaw = 0x6;
  c.mgaw = 39;
  Machine narrow(c);
  const PhysAddr t = narrow.alloc();
  narrow.set_context(kDev, 1, t, 4);
  narrow.enable();
  EXPECT_EQ(narrow.xlate(kDev, std::uint64_t{1} << 39, false), Fault::kBeyondAddressWidth);
  EXPECT_EQ(narrow.xlate(kDev, (std::uint64_t{1} << 39) - 4096, false), Fault::kNoRead);
}

TEST_F(Faults, NoWrite_0x5_And_NoRead_0x6) {
  m.enable();
  EXPECT_EQ(m.xlate(kDev, 0x9000, true), Fault::kNoWrite);
  EXPECT_EQ(m.xlate(kDev, 0x9000, false), Fault::kNoRead);
}

TEST_F(Faults, NextTableInvalid_0x7) {
  // The PML4 entry points below HAW but beyond simulated memory.
  m.mem.write64(top + kEntryBytes * 1, sl_table_entry(32 * kGiB));
  m.enable();
  EXPECT_EQ(m.xlate(kDev, std::uint64_t{1} << 39, false), Fault::kNextTableInvalid);
}

TEST_F(Faults, RootTableInvalid_0x8) {
  m.unit.write64(vtd::kRegRtaddr, 64 * kGiB);
  m.gcmd(with_field(vtd::kGcmdReg, KNIOMMU_F("SRTP"), 0, 1));
  m.set_persistent(m.te_bit());
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kRootTableInvalid);
}

TEST_F(Faults, ContextTableInvalid_0x9) {
  vtd::RootEntry re;
  re.set_present(1).set_context_table(16 * kGiB);
  vtd::write_entry128(m.mem, m.root + kEntry128Bytes * 3, re.w);
  m.enable();
  EXPECT_EQ(m.xlate(0x0300, 0x1000, false), Fault::kContextTableInvalid);
}

TEST_F(Faults, RootReserved_0xA) {
  m.mem.write64(m.root + kEntry128Bytes * 1 + 8, 1);  // hi word is reserved in legacy mode
  m.enable();
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kRootReserved);
}

TEST_F(Faults, ContextReserved_0xB) {
  patch_context(1, context_word(1) | mask_of(vtd::kContextEntry, KNIOMMU_F("RSVD_HI")));
  m.enable();
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kContextReserved);
}

TEST_F(Faults, ContextReserved_0xB_DidBeyondNd) {
  UnitConfig c;
  c.nd = 0;  // 16 domains
  Machine small(c);
  const PhysAddr t = small.alloc();
  small.set_context(kDev, 16, t, 4);
  small.set_context(Machine::kDev2, 15, t, 4);
  small.enable();
  EXPECT_EQ(small.xlate(kDev, 0x1000, false), Fault::kContextReserved);
  EXPECT_EQ(small.xlate(Machine::kDev2, 0x1000, false), Fault::kNoRead);  // DID 15 is fine
}

TEST_F(Faults, SlReserved_0xC) {
  const PhysAddr pte = m.pte_pa(top, 4, 0x1000, 12);
  // SNP is reserved without ECAP.SC; an address bit above HAW (46) is reserved too.
  m.mem.write64(pte, m.mem.read64(pte) | mask_of(vtd::kSlPte4K, KNIOMMU_F("SNP")));
  m.enable();
  EXPECT_EQ(m.xlate(kDev, 0x1000, false), Fault::kSlReserved);
  m.map(top, 4, 0x2000, std::uint64_t{1} << 47, 12, kRW);
  EXPECT_EQ(m.xlate(kDev, 0x2000, false), Fault::kSlReserved);
  // A not-present entry's reserved bits do not matter: it faults as not present.
  m.mem.write64(m.pte_pa(top, 4, 0x3000, 12), mask_of(vtd::kSlPte4K, KNIOMMU_F("SNP")));
  EXPECT_EQ(m.xlate(kDev, 0x3000, false), Fault::kNoRead);
}

TEST_F(Faults, BlockedByTranslationType_0xD) {
  // An ATS-translated request needs a TT=01 (device-TLB) context; this one is TT=00.
  m.enable();
  PhysAddr pa = 0;
  EXPECT_EQ(m.unit.translate(kDev, 0x1000, false, &pa, RequestKind::kTranslated),
            Fault::kBlockedByTranslationType);
  // With ECAP.DT and TT=01 the translated request passes with its host address.
  UnitConfig c;
  c.device_tlb = true;
  Machine dt(c);
  dt.set_context(kDev, 1, dt.alloc(), 4, /*tt=*/1);
  dt.enable();
  EXPECT_EQ(dt.unit.translate(kDev, 0x1000, false, &pa, RequestKind::kTranslated), Fault::kNone);
  EXPECT_EQ(pa, 0x1000u);
}

TEST_F(Faults, InterruptRange_0xE) {
  m.map(top, 4, 0x5000, 0xFEE0'0000, 12, kRW);
  m.enable();
  EXPECT_EQ(m.xlate(kDev, 0x5000, true), Fault::kInterruptRange);
}

TEST_F(Faults, RecordsReasonSidAddressAndType) {
  m.enable();
  EXPECT_EQ(m.xlate(kDev, 0x9abc, true), Fault::kNoWrite);
  const auto fsts = m.fsts();
  EXPECT_EQ(field_of(vtd::kFstsReg, KNIOMMU_F("PPF"), fsts), 1u);
  EXPECT_EQ(field_of(vtd::kFstsReg, KNIOMMU_F("FRI"), fsts), 0u);
  const vtd::FaultRecord r = m.frcd(0);
  EXPECT_EQ(r.fault(), 1u);
  EXPECT_EQ(r.reason(), 0x5u);
  EXPECT_EQ(r.sid(), kDev);
  EXPECT_EQ(r.fault_addr(), 0x9000u);
  EXPECT_EQ(r.type_read(), 0u);  // T=0: write
  EXPECT_EQ(m.xlate(kDev, 0x9abc, false), Fault::kNoRead);
  EXPECT_EQ(m.frcd(1).type_read(), 1u);
  // FECTL.IM is set at reset, so the event is pending in IP.
  EXPECT_EQ(field_of(vtd::kFectlReg, KNIOMMU_F("IP"), m.unit.read32(vtd::kRegFectl)), 1u);
}

TEST_F(Faults, OverflowSetsPfoAndClearingRecordsRecovers) {
  m.enable();
  const unsigned records = m.config_.nfr + 1;
  for (unsigned i = 0; i < records; ++i)
    EXPECT_EQ(m.xlate(kDev, 0x100000 + 0x1000 * i, false), Fault::kNoRead);
  EXPECT_EQ(field_of(vtd::kFstsReg, KNIOMMU_F("PFO"), m.fsts()), 0u);
  EXPECT_EQ(m.xlate(kDev, 0x900000, false), Fault::kNoRead);  // no free record
  EXPECT_EQ(field_of(vtd::kFstsReg, KNIOMMU_F("PFO"), m.fsts()), 1u);
  EXPECT_EQ(m.unit.stats().faults_dropped, 1u);
  // While PFO is set, faults are dropped even after records are freed.
  const std::uint32_t f_hi = m.config_.fro * 16 + 8;
  m.unit.write64(f_hi, mask_of(vtd::kFrcdReg, KNIOMMU_F("F")));  // RW1C: clear record 0
  EXPECT_EQ(m.frcd(0).fault(), 0u);
  EXPECT_EQ(m.frcd(0).reason(), 0x6u);  // only F is writable; the rest stays
  EXPECT_EQ(m.xlate(kDev, 0xA00000, false), Fault::kNoRead);
  EXPECT_EQ(m.unit.stats().faults_dropped, 2u);
  // Clear PFO (RW1C on FSTS); the next fault lands in record 0 again.
  m.unit.write32(vtd::kRegFsts,
                 static_cast<std::uint32_t>(mask_of(vtd::kFstsReg, KNIOMMU_F("PFO"))));
  EXPECT_EQ(field_of(vtd::kFstsReg, KNIOMMU_F("PFO"), m.fsts()), 0u);
  EXPECT_EQ(m.xlate(kDev, 0xB00000, false), Fault::kNoRead);
  EXPECT_EQ(m.frcd(0).fault(), 1u);
  EXPECT_EQ(m.frcd(0).fault_addr(), 0xB00000u);
}

TEST_F(Faults, PpfFollowsTheRecordsFBits) {
  m.enable();
  EXPECT_EQ(m.xlate(kDev, 0x9000, false), Fault::kNoRead);
  EXPECT_EQ(m.xlate(kDev, 0xA000, false), Fault::kNoRead);
  const auto clear = [&](unsigned i) {
    m.unit.write64(m.config_.fro * 16 + 16 * i + 8, mask_of(vtd::kFrcdReg, KNIOMMU_F("F")));
  };
  clear(0);
  EXPECT_EQ(field_of(vtd::kFstsReg, KNIOMMU_F("PPF"), m.fsts()), 1u);
  // Linux clears F with a 32-bit write to the record's last dword.
  m.unit.write32(m.config_.fro * 16 + 16 * 1 + 12,
                 static_cast<std::uint32_t>(mask_of(vtd::kFrcdReg, KNIOMMU_F("F")) >> 32));
  EXPECT_EQ(field_of(vtd::kFstsReg, KNIOMMU_F("PPF"), m.fsts()), 0u);
  EXPECT_EQ(field_of(vtd::kFectlReg, KNIOMMU_F("IP"), m.unit.read32(vtd::kRegFectl)), 0u);
  // Next fault: FRI names record 2, where the cursor is.
  EXPECT_EQ(m.xlate(kDev, 0xB000, false), Fault::kNoRead);
  EXPECT_EQ(field_of(vtd::kFstsReg, KNIOMMU_F("FRI"), m.fsts()), 2u);
}

TEST_F(Faults, FpdSuppressesQualifiedFaultsOnly) {
  m.set_context(kDev, 1, top, 4, 0, /*fpd=*/true);
  // Root entry for bus 4 with reserved bits set; FPD cannot help a non-qualified fault.
  m.mem.write64(m.root + kEntry128Bytes * 4, mask_of(vtd::kRootEntry, KNIOMMU_F("P")) |
                                                 mask_of(vtd::kRootEntry, KNIOMMU_F("RSVD_LO")));
  m.enable();
  EXPECT_EQ(m.xlate(kDev, 0x9000, false), Fault::kNoRead);  // still faults...
  EXPECT_EQ(m.frcd(0).fault(), 0u);                         // ...but is not recorded
  EXPECT_EQ(m.unit.stats().faults_suppressed, 1u);
  EXPECT_EQ(m.xlate(0x0400, 0x9000, false), Fault::kRootReserved);
  EXPECT_EQ(m.frcd(0).fault(), 1u);
  EXPECT_EQ(m.frcd(0).reason(), 0xAu);
}

TEST_F(Faults, FpdOnANotPresentContextSuppressesToo) {
  // QEMU honours FPD even when P=0.
  const PhysAddr ctx = m.context_pa(0x0109);
  m.mem.write64(ctx, mask_of(vtd::kContextEntry, KNIOMMU_F("FPD")));
  m.enable();
  EXPECT_EQ(m.xlate(0x0109, 0x1000, false), Fault::kContextNotPresent);
  EXPECT_EQ(m.unit.stats().faults_recorded, 0u);
  EXPECT_EQ(m.unit.stats().faults_suppressed, 1u);
}

}  // namespace
}  // namespace kniommu::hw::test
