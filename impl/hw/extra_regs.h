// Registers the shared layouts (vtd/formats.h) do not name because the driver does not use them:
// the invalidation-completion event registers (VT-d spec §10.4). IECTL has FECTL's format (IM bit
// 31, IP bit 30), so the emulator reuses vtd::kFectlReg for its bits.
#pragma once

#include <cstdint>

namespace kniommu::hw {

inline constexpr std::uint32_t kRegIectl = 0x0A0;
inline constexpr std::uint32_t kRegIedata = 0x0A4;
inline constexpr std::uint32_t kRegIeaddr = 0x0A8;
inline constexpr std::uint32_t kRegIeuaddr = 0x0AC;
// VER value the unit reports: 1.0, as QEMU.
inline constexpr std::uint32_t kVersion = 0x10;

}  // namespace kniommu::hw
