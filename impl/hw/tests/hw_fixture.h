// Test scaffolding for the emulated unit: a machine (memory + unit + bus), tables written by hand
// with plain PhysMem writes through the shared layouts (independent of the driver's page-table
// code), and a tiny "driver" that programs the unit through MMIO only.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

#include "hw/layout_masks.h"
#include "hw/pcie_bus.h"
#include "hw/remapping_unit.h"
#include "hw/sim_phys_mem.h"
#include "vtd/address_math.h"
#include "vtd/entries.h"

namespace kniommu::hw::test {

inline constexpr std::uint64_t kMiB = std::uint64_t{1024} * 1024;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;
inline constexpr std::uint64_t kEntryBytes = 8;      // one 64-bit table entry
inline constexpr std::uint64_t kEntry128Bytes = 16;  // one root or context entry
inline constexpr std::uint8_t kR = kPermRead;
inline constexpr std::uint8_t kW = kPermWrite;
inline constexpr std::uint8_t kRW = kPermRead | kPermWrite;

// SL entries encoded through the layouts.
inline std::uint64_t sl_table_entry(PhysAddr next, std::uint8_t perms = kRW) {
  std::uint64_t w = 0;
  w = with_field(vtd::kSlTableEntry, KNIOMMU_F("R"), w, perms & kR ? 1 : 0);
  w = with_field(vtd::kSlTableEntry, KNIOMMU_F("W"), w, perms & kW ? 1 : 0);
  return with_field(vtd::kSlTableEntry, KNIOMMU_F("ADDR"), w, next >> 12);
}
inline std::uint64_t sl_leaf(PhysAddr pa, unsigned shift, std::uint8_t perms) {
  std::uint64_t w = 0;
  w = with_field(vtd::kSlPte4K, KNIOMMU_F("R"), w, perms & kR ? 1 : 0);
  w = with_field(vtd::kSlPte4K, KNIOMMU_F("W"), w, perms & kW ? 1 : 0);
  if (shift == 12) return with_field(vtd::kSlPte4K, KNIOMMU_F("ADDR"), w, pa >> 12);
  w = with_field(vtd::kSlPte2M, KNIOMMU_F("PS"), w, 1);
  if (shift == 21) return with_field(vtd::kSlPte2M, KNIOMMU_F("ADDR"), w, pa >> 21);
  return with_field(vtd::kSlPte1G, KNIOMMU_F("ADDR"), w, pa >> 30);
}

using vtd::level_shift;

class Machine {
 public:
  explicit Machine(UnitConfig config = {}, std::uint64_t mem_bytes = 8 * kGiB)
      : config_(config), mem(mem_bytes), unit(config, mem), bus(mem, &unit) {
    root = alloc();
    for (std::uint16_t bdf : {kDev, kDev2}) bus.add_device(bdf);
  }

  static constexpr std::uint16_t kDev = 0x0108;   // 01:01.0
  static constexpr std::uint16_t kDev2 = 0x0110;  // 01:02.0

  PhysAddr alloc(unsigned order = 0) {
    PhysAddr pa = 0;
    EXPECT_EQ(mem.alloc_frames(order, 0, &pa), rcOk);
    return pa;
  }

  unsigned levels() const {
    for (unsigned l = 5; l >= 3; --l) {
      if (config_.supports_levels(l)) return l;
    }
    return 0;
  }

  // Context entry for `sid` (allocating the bus's context table on first use).
  void set_context(std::uint16_t sid, std::uint16_t did, PhysAddr slptptr, unsigned levels,
                   unsigned tt = 0, bool fpd = false) {
    const PhysAddr root_pa = root + kEntry128Bytes * (sid >> 8);
    vtd::RootEntry re;
    re.w = vtd::read_entry128(mem, root_pa);
    if (re.present() == 0) {
      re = vtd::RootEntry{};
      re.set_present(1).set_context_table(alloc());
      vtd::write_entry128(mem, root_pa, re.w);
    }
    vtd::ContextEntry ce;
    ce.set_present(1).set_fpd(fpd ? 1 : 0).set_tt(tt).set_aw(levels - 2).set_did(did);
    ce.set_slptptr(slptptr);
    vtd::write_entry128(mem, re.context_table() + kEntry128Bytes * (sid & 0xFF), ce.w);
  }
  PhysAddr context_pa(std::uint16_t sid) {
    vtd::RootEntry re;
    re.w = vtd::read_entry128(mem, root + kEntry128Bytes * (sid >> 8));
    return re.context_table() + kEntry128Bytes * (sid & 0xFF);
  }

  // Maps iova -> pa as a leaf of size 2^shift under the table tree at `top`.
  void map(PhysAddr top, unsigned levels, std::uint64_t iova, PhysAddr pa, unsigned shift,
           std::uint8_t perms) {
    mem.write64(pte_pa(top, levels, iova, shift), sl_leaf(pa, shift, perms));
  }
  // Physical address of the entry for `iova` at the level whose entries map 2^shift bytes,
  // creating intermediate tables on the way.
  PhysAddr pte_pa(PhysAddr top, unsigned levels, std::uint64_t iova, unsigned shift) {
    PhysAddr table = top;
    for (unsigned level = levels;; --level) {
      const PhysAddr e = table + 8 * ((iova >> level_shift(level)) & 511);
      if (level_shift(level) == shift) return e;
      std::uint64_t v = mem.read64(e);
      if ((v & kRW) == 0) {
        v = sl_table_entry(alloc());
        mem.write64(e, v);
      }
      table = with_field(vtd::kSlTableEntry, KNIOMMU_F("R"), v, 0) &
              mask_of(vtd::kSlTableEntry, KNIOMMU_F("ADDR"));
    }
  }

  // Programs root pointer, global invalidations (registers) and TE, as a driver would.
  void enable(bool translation = true) {
    unit.write64(vtd::kRegRtaddr, root);
    gcmd(with_field(vtd::kGcmdReg, KNIOMMU_F("SRTP"), 0, 1));
    reg_context_invalidate(1, 0, 0);
    reg_iotlb_invalidate(1, 0, 0, 0, false);
    if (translation) set_persistent(te_bit());
  }
  // GCMD: software keeps a shadow of the persistent bits (TE, QIE) and writes it with every
  // one-shot command (VT-d spec §10.4.4).
  void set_persistent(std::uint32_t bits) {
    shadow_ |= bits;
    gcmd(0);
  }
  void clear_persistent(std::uint32_t bits) {
    shadow_ &= ~bits;
    gcmd(0);
  }
  std::uint32_t te_bit() const {
    return static_cast<std::uint32_t>(mask_of(vtd::kGcmdReg, KNIOMMU_F("TE")));
  }
  void gcmd(std::uint32_t v) { unit.write32(vtd::kRegGcmd, shadow_ | v); }
  std::uint32_t gsts() { return unit.read32(vtd::kRegGsts); }

  // Queued invalidation: a 256-entry queue (QS=0) in a fresh frame.
  void enable_qi() {
    queue_ = alloc();
    unit.write64(vtd::kRegIqa, with_field(vtd::kIqaReg, KNIOMMU_F("IQA"), 0, queue_ >> 12));
    unit.write64(vtd::kRegIqt, 0);
    tail_ = 0;
    set_persistent(static_cast<std::uint32_t>(mask_of(vtd::kGcmdReg, KNIOMMU_F("QIE"))));
  }
  void submit(const vtd::layout::Words<2>& d) {
    vtd::write_entry128(mem, queue_ + 16 * tail_, d);
    tail_ = (tail_ + 1) % 256;
    unit.write64(vtd::kRegIqt, with_field(vtd::kIqPtrReg, KNIOMMU_F("QP"), 0, tail_));
  }
  std::uint64_t iqh() {
    return field_of(vtd::kIqPtrReg, KNIOMMU_F("QP"), unit.read64(vtd::kRegIqh));
  }
  static vtd::layout::Words<2> cc_desc(unsigned g, std::uint16_t did, std::uint16_t sid = 0,
                                       unsigned fm = 0) {
    vtd::ContextCacheDesc d;
    d.set_type(vtd::kDescContextCache).set_granularity(g).set_did(did).set_sid(sid).set_fm(fm);
    return d.w;
  }
  static vtd::layout::Words<2> iotlb_desc(unsigned g, std::uint16_t did, std::uint64_t addr = 0,
                                          unsigned am = 0, bool ih = false) {
    vtd::IotlbDesc d;
    d.set_type(vtd::kDescIotlb).set_granularity(g).set_did(did).set_am(am).set_ih(ih ? 1 : 0);
    d.set_addr_field(addr >> 12);
    return d.w;
  }
  static vtd::layout::Words<2> wait_desc(bool sw, bool irq, std::uint32_t data, PhysAddr addr) {
    vtd::WaitDesc d;
    d.set_type(vtd::kDescWait).set_status_write(sw ? 1 : 0).set_interrupt(irq ? 1 : 0);
    d.set_status_data(data).set_saddr_field(addr >> 2);
    return d.w;
  }

  void reg_context_invalidate(unsigned g, std::uint16_t did, std::uint16_t sid, unsigned fm = 0) {
    std::uint64_t v = 0;
    v = with_field(vtd::kCcmdReg, KNIOMMU_F("ICC"), v, 1);
    v = with_field(vtd::kCcmdReg, KNIOMMU_F("CIRG"), v, g);
    v = with_field(vtd::kCcmdReg, KNIOMMU_F("DID"), v, did);
    v = with_field(vtd::kCcmdReg, KNIOMMU_F("SID"), v, sid);
    v = with_field(vtd::kCcmdReg, KNIOMMU_F("FM"), v, fm);
    unit.write64(vtd::kRegCcmd, v);
  }
  // Returns IAIG.
  unsigned reg_iotlb_invalidate(unsigned g, std::uint16_t did, std::uint64_t addr, unsigned am,
                                bool ih) {
    const std::uint32_t iva = config_.iro * 16;
    std::uint64_t a = 0;
    a = with_field(vtd::kIvaReg, KNIOMMU_F("ADDR"), a, addr >> 12);
    a = with_field(vtd::kIvaReg, KNIOMMU_F("AM"), a, am);
    a = with_field(vtd::kIvaReg, KNIOMMU_F("IH"), a, ih ? 1 : 0);
    unit.write64(iva, a);
    std::uint64_t v = 0;
    v = with_field(vtd::kIotlbReg, KNIOMMU_F("IVT"), v, 1);
    v = with_field(vtd::kIotlbReg, KNIOMMU_F("IIRG"), v, g);
    v = with_field(vtd::kIotlbReg, KNIOMMU_F("DID"), v, did);
    unit.write64(iva + vtd::kIotlbRegFromIva, v);
    return static_cast<unsigned>(
        field_of(vtd::kIotlbReg, KNIOMMU_F("IAIG"), unit.read64(iva + vtd::kIotlbRegFromIva)));
  }

  // Translation helpers. Returns the fault (kNone on success) and the physical address.
  Fault xlate(std::uint16_t sid, std::uint64_t iova, bool write, PhysAddr* pa = nullptr) {
    PhysAddr tmp = 0;
    return unit.translate(sid, iova, write, pa != nullptr ? pa : &tmp);
  }

  std::uint64_t fsts() { return unit.read32(vtd::kRegFsts); }
  vtd::FaultRecord frcd(unsigned i) {
    vtd::FaultRecord r;
    r.w = {unit.read64(config_.fro * 16 + 16 * i), unit.read64(config_.fro * 16 + 16 * i + 8)};
    return r;
  }

  UnitConfig config_;
  SimPhysMem mem;
  RemappingUnit unit;
  PcieBus bus;
  PhysAddr root = 0;

 private:
  std::uint32_t shadow_ = 0;
  PhysAddr queue_ = 0;
  std::uint64_t tail_ = 0;
};

// A 4-level context for Machine::kDev with DID 7 and one RW page 0x1000 -> 0x400000, translation
// and queued invalidation on.
class MappedUnit : public ::testing::Test {
 protected:
  void SetUp() override {
    top = m.alloc();
    m.map(top, 4, 0x1000, 0x40'0000, 12, kRW);
    m.set_context(Machine::kDev, 7, top, 4);
    m.enable();
    m.enable_qi();
  }
  Machine m;
  PhysAddr top = 0;
};

}  // namespace kniommu::hw::test
