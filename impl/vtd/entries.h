// Typed wrappers over the layouts of formats.h (Fuchsia `ds::` style): raw words plus named
// accessors generated from the layout, and the 128-bit memory write with the ordering rule.
#pragma once

#include "vtd/formats.h"
#include "vtd/phys_mem.h"

namespace kniommu::vtd {

struct RootEntry : layout::Entry<decltype(kRootEntry)> {
  KNIOMMU_VTD_ACCESSOR(RootEntry, present, "P")
  KNIOMMU_VTD_ACCESSOR(RootEntry, ctp_field, "CTP")
  // Context-table physical address (4 KiB aligned).
  constexpr PhysAddr context_table() const { return ctp_field() << kPageShift; }
  constexpr RootEntry& set_context_table(PhysAddr pa) { return set_ctp_field(pa >> kPageShift); }
};

struct ContextEntry : layout::Entry<decltype(kContextEntry)> {
  KNIOMMU_VTD_ACCESSOR(ContextEntry, present, "P")
  KNIOMMU_VTD_ACCESSOR(ContextEntry, fpd, "FPD")
  KNIOMMU_VTD_ACCESSOR(ContextEntry, tt, "TT")
  KNIOMMU_VTD_ACCESSOR(ContextEntry, slptptr_field, "SLPTPTR")
  KNIOMMU_VTD_ACCESSOR(ContextEntry, aw, "AW")
  KNIOMMU_VTD_ACCESSOR(ContextEntry, did, "DID")
  constexpr PhysAddr slptptr() const { return slptptr_field() << kPageShift; }
  constexpr ContextEntry& set_slptptr(PhysAddr pa) { return set_slptptr_field(pa >> kPageShift); }
};

struct ContextCacheDesc : layout::Entry<decltype(kContextCacheDesc)> {
  KNIOMMU_VTD_ACCESSOR(ContextCacheDesc, type, "TYPE")
  KNIOMMU_VTD_ACCESSOR(ContextCacheDesc, granularity, "G")
  KNIOMMU_VTD_ACCESSOR(ContextCacheDesc, did, "DID")
  KNIOMMU_VTD_ACCESSOR(ContextCacheDesc, sid, "SID")
  KNIOMMU_VTD_ACCESSOR(ContextCacheDesc, fm, "FM")
};

struct IotlbDesc : layout::Entry<decltype(kIotlbDesc)> {
  KNIOMMU_VTD_ACCESSOR(IotlbDesc, type, "TYPE")
  KNIOMMU_VTD_ACCESSOR(IotlbDesc, granularity, "G")
  KNIOMMU_VTD_ACCESSOR(IotlbDesc, dw, "DW")
  KNIOMMU_VTD_ACCESSOR(IotlbDesc, dr, "DR")
  KNIOMMU_VTD_ACCESSOR(IotlbDesc, did, "DID")
  KNIOMMU_VTD_ACCESSOR(IotlbDesc, am, "AM")
  KNIOMMU_VTD_ACCESSOR(IotlbDesc, ih, "IH")
  KNIOMMU_VTD_ACCESSOR(IotlbDesc, addr_field, "ADDR")
  constexpr std::uint64_t addr() const { return addr_field() << kPageShift; }
};

struct WaitDesc : layout::Entry<decltype(kWaitDesc)> {
  KNIOMMU_VTD_ACCESSOR(WaitDesc, type, "TYPE")
  KNIOMMU_VTD_ACCESSOR(WaitDesc, interrupt, "IF")
  KNIOMMU_VTD_ACCESSOR(WaitDesc, status_write, "SW")
  KNIOMMU_VTD_ACCESSOR(WaitDesc, fence, "FN")
  KNIOMMU_VTD_ACCESSOR(WaitDesc, status_data, "SDATA")
  KNIOMMU_VTD_ACCESSOR(WaitDesc, saddr_field, "SADDR")
  constexpr PhysAddr status_addr() const { return saddr_field() << 2; }
};

struct FaultRecord : layout::Entry<decltype(kFrcdReg)> {
  KNIOMMU_VTD_ACCESSOR(FaultRecord, fi_field, "FI")
  KNIOMMU_VTD_ACCESSOR(FaultRecord, sid, "SID")
  KNIOMMU_VTD_ACCESSOR(FaultRecord, reason, "FR")
  KNIOMMU_VTD_ACCESSOR(FaultRecord, type_read, "T")
  KNIOMMU_VTD_ACCESSOR(FaultRecord, fault, "F")
  constexpr std::uint64_t fault_addr() const { return fi_field() << kPageShift; }
};

// Writes a 128-bit structure (root/context entry, descriptor) as two 64-bit stores: the hi word
// first and the lo word, which holds the present bit, last — so a walker that reads the entry
// between the stores sees it not present rather than half-written (VT-d spec §9.3).
inline void write_entry128(PhysMem& mem, PhysAddr pa, const layout::Words<2>& w) {
  mem.write64(pa + 8, w[1]);
  mem.write64(pa, w[0]);
}
// Clears a 128-bit entry in the opposite order: present word first.
inline void clear_entry128(PhysMem& mem, PhysAddr pa) {
  mem.write64(pa, 0);
  mem.write64(pa + 8, 0);
}
inline layout::Words<2> read_entry128(const PhysMem& mem, PhysAddr pa) {
  return {mem.read64(pa), mem.read64(pa + 8)};
}

}  // namespace kniommu::vtd
