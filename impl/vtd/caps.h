// CAP/ECAP register wrappers and the decisions derived from them (table depth, superpage sizes,
// domain-ID space). VT-d spec §10.4.2–§10.4.3; Xen XSA-390 and 474fc7d3c6.
#pragma once

#include "vtd/formats.h"

namespace kniommu::vtd {

struct CapReg : layout::Register<CapReg, decltype(kCapReg)> {
  KNIOMMU_VTD_ACCESSOR(CapReg, nd, "ND")
  KNIOMMU_VTD_ACCESSOR(CapReg, rwbf, "RWBF")
  KNIOMMU_VTD_ACCESSOR(CapReg, cm, "CM")
  KNIOMMU_VTD_ACCESSOR(CapReg, sagaw, "SAGAW")
  KNIOMMU_VTD_ACCESSOR(CapReg, mgaw, "MGAW")
  KNIOMMU_VTD_ACCESSOR(CapReg, zlr, "ZLR")
  KNIOMMU_VTD_ACCESSOR(CapReg, fro, "FRO")
  KNIOMMU_VTD_ACCESSOR(CapReg, sllps, "SLLPS")
  KNIOMMU_VTD_ACCESSOR(CapReg, psi, "PSI")
  KNIOMMU_VTD_ACCESSOR(CapReg, nfr, "NFR")
  KNIOMMU_VTD_ACCESSOR(CapReg, mamv, "MAMV")
  KNIOMMU_VTD_ACCESSOR(CapReg, dwd, "DWD")
  KNIOMMU_VTD_ACCESSOR(CapReg, drd, "DRD")
  KNIOMMU_VTD_ACCESSOR(CapReg, esrtps, "ESRTPS")
  // Address width in bits (MGAW holds width - 1).
  constexpr unsigned mgaw_bits() const { return static_cast<unsigned>(mgaw()) + 1; }
  constexpr std::uint64_t domain_count() const { return std::uint64_t{1} << (4 + 2 * nd()); }
  constexpr std::uint32_t fault_record_offset() const {
    return static_cast<std::uint32_t>(fro() * 16);
  }
  constexpr bool supports_levels(unsigned levels) const {
    return levels >= 2 && levels <= 6 && ((sagaw() >> (levels - 2)) & 1) != 0;
  }
  constexpr bool superpage_2m() const { return (sllps() & 1) != 0; }
  constexpr bool superpage_1g() const { return (sllps() & 2) != 0; }
};

struct EcapReg : layout::Register<EcapReg, decltype(kEcapReg)> {
  KNIOMMU_VTD_ACCESSOR(EcapReg, c, "C")
  KNIOMMU_VTD_ACCESSOR(EcapReg, qi, "QI")
  KNIOMMU_VTD_ACCESSOR(EcapReg, dt, "DT")
  KNIOMMU_VTD_ACCESSOR(EcapReg, ir, "IR")
  KNIOMMU_VTD_ACCESSOR(EcapReg, pt, "PT")
  KNIOMMU_VTD_ACCESSOR(EcapReg, sc, "SC")
  KNIOMMU_VTD_ACCESSOR(EcapReg, iro, "IRO")
  constexpr std::uint32_t iotlb_reg_offset() const {
    return static_cast<std::uint32_t>(iro() * 16);
  }
};

// Width covered by a walk of `levels` levels: 39 / 48 / 57 bits for 3 / 4 / 5 (AGAW = 30 + 9*AW).
constexpr unsigned width_for_levels(unsigned levels) { return 12 + 9 * levels; }
// Context-entry AW for a level count (AW = levels - 2).
constexpr std::uint64_t aw_for_levels(unsigned levels) { return levels - 2; }

// Table depth for a domain on this unit: the fewest levels whose width covers MGAW, then the
// highest level count at or below it that SAGAW advertises (Linux's agaw search; Xen 474fc7d3c6
// picked the lowest SAGAW bit instead, which wastes address space). Only 3, 4 and 5 are considered
// (2-level and 6-level are reserved). Returns 0 when SAGAW offers none of them.
constexpr unsigned select_levels(const CapReg& cap) {
  unsigned want = 3;
  while (want < 5 && width_for_levels(want) < cap.mgaw_bits()) ++want;
  for (unsigned l = want; l >= 3; --l) {
    if (cap.supports_levels(l)) return l;
  }
  return 0;
}

// The capabilities a driver or an auditor acts on, decoded once from raw CAP/ECAP values: the one
// decoder both use (the emulator reads its own registers its own way).
struct UnitCaps {
  CapReg cap{};
  EcapReg ecap{};
  unsigned levels = 0;         // table depth domains use (select_levels); 0 = none usable
  unsigned address_width = 0;  // min(MGAW, width_for_levels(levels))

  static constexpr UnitCaps decode(std::uint64_t cap_raw, std::uint64_t ecap_raw) {
    UnitCaps c;
    c.cap = CapReg::from(cap_raw);
    c.ecap = EcapReg::from(ecap_raw);
    c.levels = select_levels(c.cap);
    if (c.levels != 0) {
      const unsigned w = width_for_levels(c.levels);
      c.address_width = c.cap.mgaw_bits() < w ? c.cap.mgaw_bits() : w;
    }
    return c;
  }
  // 2^(4 + 2*ND) domain IDs; 0 for the reserved ND = 7.
  constexpr std::uint32_t domain_ids() const {
    return cap.nd() >= 7 ? 0 : static_cast<std::uint32_t>(cap.domain_count());
  }
  constexpr bool rwbf() const { return cap.rwbf() != 0; }
  constexpr bool caching_mode() const { return cap.cm() != 0; }
  constexpr bool psi() const { return cap.psi() != 0; }
  constexpr unsigned mamv() const { return static_cast<unsigned>(cap.mamv()); }
  constexpr std::uint32_t sllps() const { return static_cast<std::uint32_t>(cap.sllps()); }
  constexpr bool drain_reads() const { return cap.drd() != 0; }
  constexpr bool drain_writes() const { return cap.dwd() != 0; }
  constexpr bool coherent() const { return ecap.c() != 0; }
  constexpr bool queued_invalidation() const { return ecap.qi() != 0; }
};

}  // namespace kniommu::vtd
