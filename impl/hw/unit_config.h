// Configuration of one emulated remapping unit: the capabilities it advertises (so every suite can
// run against several hardware generations) and the sizes of its caches. Mirrors the hardware part
// of KnSimConfig (impl/include/kniommu/sim.h) and adds what that C struct leaves at defaults.
#pragma once

#include <cstdint>

#include "kniommu/sim.h"

namespace kniommu::hw {

struct UnitConfig {
  std::uint32_t sagaw = 0x4;  // CAP.SAGAW bitmap: 0x2 3-level, 0x4 4-level, 0x8 5-level
  std::uint32_t mgaw = 48;    // guest address width in bits (CAP.MGAW = mgaw - 1)
  std::uint32_t haw = 46;     // host (physical) address width: pointer bits >= haw are reserved
  std::uint32_t sllps = 0x3;  // CAP.SLLPS: bit0 2 MiB, bit1 1 GiB
  bool caching_mode = false;  // CAP.CM: not-present entries may be cached
  std::uint32_t nd = 6;       // CAP.ND: 2^(4+2*nd) domain IDs
  std::uint32_t mamv = 18;    // CAP.MAMV
  std::uint32_t nfr = 7;      // CAP.NFR: fault-recording registers - 1
  bool coherent = true;       // ECAP.C: false = table walks do not snoop the CPU cache
  bool queued_invalidation = true;  // ECAP.QI
  bool pass_through = false;        // ECAP.PT: TT=10 allowed
  bool device_tlb = false;          // ECAP.DT: TT=01 allowed (translated requests)
  std::uint32_t iotlb_entries = 1024;
  std::uint32_t context_cache_entries = 256;
  std::uint32_t paging_structure_cache_entries = 256;  // 0: no paging-structure cache
  // Instrumentation, not hardware: audit every frame free against the tables and caches
  // (use_after_free_count). Off only for benchmarks of the code above the unit.
  bool detect_use_after_free = true;
  // Register placement (QEMU's choices): IVA/IOTLB at 0xF0, fault records at 0x220.
  std::uint32_t iro = 0xF0 / 16;
  std::uint32_t fro = 0x220 / 16;

  std::uint32_t domain_count() const { return 1u << (4 + 2 * nd); }
  // True when SAGAW advertises a table of `levels` levels (AW = levels - 2, bit AW of SAGAW).
  bool supports_levels(unsigned levels) const {
    return levels >= 2 && levels <= 6 && ((sagaw >> (levels - 2)) & 1) != 0;
  }
  // Size of the MMIO window: through the last fault-recording register, page-rounded.
  std::uint32_t mmio_size() const;
  std::uint64_t cap() const;
  std::uint64_t ecap() const;
};

// The unit described by a KnSimConfig (fields it does not carry keep UnitConfig's defaults).
UnitConfig unit_config_from_sim(const KnSimConfig& sim);

}  // namespace kniommu::hw
