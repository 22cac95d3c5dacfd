// Register offsets and command/status bits of one VT-d remapping unit (legacy mode), as the driver
// uses them, plus the decoded capabilities the driver's policies depend on.
// Source: VT-d spec §10.4.2–§10.4.5.
#pragma once

#include <cstdint>

#include "vtd/formats.h"

namespace kniommu::vtd::driver {

// Register offsets come from vtd/formats.h (kReg*), shared with the emulated unit.
namespace reg {
inline constexpr std::uint32_t kCap = kRegCap;
inline constexpr std::uint32_t kEcap = kRegEcap;
inline constexpr std::uint32_t kGcmd = kRegGcmd;
inline constexpr std::uint32_t kGsts = kRegGsts;
inline constexpr std::uint32_t kRtaddr = kRegRtaddr;
inline constexpr std::uint32_t kFsts = kRegFsts;
inline constexpr std::uint32_t kIqh = kRegIqh;
inline constexpr std::uint32_t kIqt = kRegIqt;
inline constexpr std::uint32_t kIqa = kRegIqa;
}  // namespace reg

// GCMD command bits, from the layout; GSTS mirrors each at the same position (checked below).
namespace gcmd {
inline constexpr std::uint32_t bit(std::uint64_t mask) { return static_cast<std::uint32_t>(mask); }
inline constexpr std::uint32_t kTe = bit(layout::mask_of(kGcmdReg, KNIOMMU_F("TE")));
inline constexpr std::uint32_t kSrtp = bit(layout::mask_of(kGcmdReg, KNIOMMU_F("SRTP")));
inline constexpr std::uint32_t kWbf = bit(layout::mask_of(kGcmdReg, KNIOMMU_F("WBF")));
inline constexpr std::uint32_t kQie = bit(layout::mask_of(kGcmdReg, KNIOMMU_F("QIE")));
static_assert(kTe == layout::mask_of(kGstsReg, KNIOMMU_F("TES")) &&
                  kSrtp == layout::mask_of(kGstsReg, KNIOMMU_F("RTPS")) &&
                  kWbf == layout::mask_of(kGstsReg, KNIOMMU_F("WBFS")) &&
                  kQie == layout::mask_of(kGstsReg, KNIOMMU_F("QIES")),
              "GSTS mirrors the GCMD commands the driver waits for");
}  // namespace gcmd

namespace fsts {
inline constexpr std::uint32_t kIqe =
    static_cast<std::uint32_t>(layout::mask_of(kFstsReg, KNIOMMU_F("IQE")));
}

// What the driver needs from CAP/ECAP, decoded once at init.
struct UnitCaps {
  std::uint32_t nd = 0;              // CAP.ND
  std::uint32_t domain_ids = 0;      // 2^(4 + 2*ND)
  bool rwbf = false;                 // write-buffer flush required
  bool caching_mode = false;         // CAP.CM
  std::uint32_t sagaw = 0;           // CAP.SAGAW bitmap (bit0 = 2-level ... bit3 = 5-level)
  std::uint32_t mgaw = 0;            // address width in bits (CAP.MGAW + 1)
  std::uint32_t sllps = 0;           // bit0 2 MiB, bit1 1 GiB
  bool psi = false;                  // page-selective IOTLB invalidation supported
  std::uint32_t mamv = 0;            // largest PSI address mask
  bool drain_reads = false;          // CAP.DRD
  bool drain_writes = false;         // CAP.DWD
  bool coherent = false;             // ECAP.C
  bool queued_invalidation = false;  // ECAP.QI

  // Table depth domains use (vtd::select_levels: the deepest SAGAW level count MGAW needs).
  unsigned levels = 0;         // 3, 4 or 5; 0 = none usable
  unsigned address_width = 0;  // min(MGAW, 30 + 9 * (levels - 2))
};

UnitCaps decode_caps(std::uint64_t cap, std::uint64_t ecap);

}  // namespace kniommu::vtd::driver
