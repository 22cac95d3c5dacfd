// can_access: the isolation relation (docs/semantics.md "What a device can reach").
#include "model/internal.h"

namespace kniommu::model {

namespace {
constexpr uint32_t kDirToDevice = 0x1;    // DMA_DIR_TO_DEVICE: the device reads memory (R)
constexpr uint32_t kDirFromDevice = 0x2;  // DMA_DIR_FROM_DEVICE: the device writes memory (W)

Access fault(uint8_t reason) {
  Access a;
  a.fault_reason = reason;
  return a;
}
}  // namespace

Access can_access(const State& s, Bdf bdf, uint64_t iova, Dir dir) {
  if (!s.config.iommu_enabled) {
    Access a;
    a.allowed = true;
    a.untranslated = true;
    return a;
  }
  const std::optional<DomainSerial> domain =
      device_known(s, bdf) ? attachment(s, bdf) : std::nullopt;
  if (!domain) {
    return fault(0x2);  // context entry not present
  }
  if (s.config.address_width < 64 && (iova >> s.config.address_width) != 0) {
    return fault(0x4);  // beyond the address width
  }
  // Legacy second-level entries have no present bit: "not mapped" is "no permission".
  const uint8_t denied = dir == Dir::Read ? 0x6 : 0x5;
  const uint64_t page = iova / kPageSize;
  for (const auto& [id, g] : s.grants) {
    const uint64_t first = g.iova / kPageSize;
    if (g.domain != domain || page < first || page - first >= g.pages) {
      continue;
    }
    // A grant of a freed buffer (only in a broken state) maps whatever it mapped: treat it as
    // reachable both ways so that Isolation reports it.
    const auto b = s.buffers.find(g.buffer);
    const DmaAttr flags =
        b == s.buffers.end() ? DmaAttr{kDirToDevice | kDirFromDevice} : b->second.flags;
    const uint32_t need = dir == Dir::Read ? kDirToDevice : kDirFromDevice;
    if ((flags & need) == 0) {
      return fault(denied);
    }
    Access a;
    a.allowed = true;
    a.buffer = g.buffer;
    a.page = page - first;
    return a;
  }
  return fault(denied);
}

}  // namespace kniommu::model
