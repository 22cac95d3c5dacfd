// How the audit writes addresses and devices, the same way in every output format.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace kniommu::audit {

std::string bdf_name(std::uint16_t bdf);  // "00:03.0" (bus:device.function, hex)
std::optional<std::uint16_t> parse_bdf(const std::string& text);  // "00:03.0" (or "0000:00:03.0")
std::string hex(std::uint64_t value);                             // "0x1f000"
std::string perms_name(std::uint8_t perms);                       // "R", "W", "RW"

}  // namespace kniommu::audit
