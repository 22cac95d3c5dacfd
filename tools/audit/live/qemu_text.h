// Parsers for the text QEMU prints through HMP (`xp`, `info mtree -f`, `info qtree`), as QEMU
// 7.2 formats it. Each is tolerant of lines it does not know and never fails hard: a field it
// cannot find is simply absent from the result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/format.h"

namespace kniommu::live {

// "00000000fed90008: 0x00d2008c22260206" -> the value.
std::optional<std::uint64_t> parse_xp_value(const std::string& xp_output);

// Guest RAM as the CPU sees it: the `ram` ranges of the flat view of address space "memory".
struct RamRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};
std::vector<RamRange> parse_ram_ranges(const std::string& mtree_flat);
bool page_in_ram(const std::vector<RamRange>& ram, std::uint64_t pa);

// What the device tree says that the tables cannot: the remapping unit's MMIO base, and every
// virtio device's iommu_platform (false = its DMA bypasses the IOMMU), plus devices under a
// host bridge with bypass-iommu = true.
struct QtreeFacts {
  std::optional<std::uint64_t> dmar_base;
  std::vector<snapshot::DeviceInfo> devices;
};
QtreeFacts parse_qtree(const std::string& qtree);

}  // namespace kniommu::live
