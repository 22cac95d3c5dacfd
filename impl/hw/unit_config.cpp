#include "hw/unit_config.h"

#include <algorithm>

#include "vtd/formats.h"

namespace kniommu::hw {

using CapL = decltype(vtd::kCapReg);
using EcapL = decltype(vtd::kEcapReg);

std::uint32_t UnitConfig::mmio_size() const {
  const std::uint32_t end = std::max(fro * 16 + (nfr + 1) * vtd::kFrcdStride, iro * 16 + 16);
  return (end + 0xFFF) & ~0xFFFu;
}

std::uint64_t UnitConfig::cap() const {
  vtd::layout::Words<1> w{};
  CapL::set(w, KNIOMMU_F("ND"), nd);
  CapL::set(w, KNIOMMU_F("CM"), caching_mode ? 1 : 0);
  CapL::set(w, KNIOMMU_F("SAGAW"), sagaw);
  CapL::set(w, KNIOMMU_F("MGAW"), mgaw - 1);
  CapL::set(w, KNIOMMU_F("FRO"), fro);
  CapL::set(w, KNIOMMU_F("SLLPS"), sllps);
  CapL::set(w, KNIOMMU_F("PSI"), 1);
  CapL::set(w, KNIOMMU_F("NFR"), nfr);
  CapL::set(w, KNIOMMU_F("MAMV"), mamv);
  return w[0];
}

std::uint64_t UnitConfig::ecap() const {
  vtd::layout::Words<1> w{};
  EcapL::set(w, KNIOMMU_F("C"), coherent ? 1 : 0);
  EcapL::set(w, KNIOMMU_F("QI"), queued_invalidation ? 1 : 0);
  EcapL::set(w, KNIOMMU_F("DT"), device_tlb ? 1 : 0);
  EcapL::set(w, KNIOMMU_F("PT"), pass_through ? 1 : 0);
  EcapL::set(w, KNIOMMU_F("IRO"), iro);
  return w[0];
}

UnitConfig unit_config_from_sim(const KnSimConfig& sim) {
  UnitConfig c;
  c.sagaw = sim.sagaw;
  c.mgaw = sim.mgaw;
  c.sllps = sim.sllps;
  c.caching_mode = sim.caching_mode != 0;
  c.nd = sim.nd;
  c.mamv = sim.mamv;
  c.nfr = sim.nfr;
  c.coherent = sim.coherent != 0;
  if (sim.iotlb_entries != 0) c.iotlb_entries = sim.iotlb_entries;
  if (sim.context_cache_entries != 0) c.context_cache_entries = sim.context_cache_entries;
  c.detect_use_after_free = sim.skip_use_after_free_check == 0;
  return c;
}

}  // namespace kniommu::hw
