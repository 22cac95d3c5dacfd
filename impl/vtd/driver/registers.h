// Register offsets and command/status bits of one VT-d remapping unit (legacy mode), as the driver
// uses them, with the capabilities decoded by the shared vtd::UnitCaps.
// Source: VT-d spec §10.4.2–§10.4.5.
#pragma once

#include <cstdint>

#include "vtd/caps.h"
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

// The capabilities the driver's policies depend on: the shared decoder of vtd/caps.h.
using vtd::UnitCaps;

}  // namespace kniommu::vtd::driver
