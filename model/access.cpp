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

detail::AccessPair detail::access_both(const State& s, Bdf bdf, uint64_t iova) {
  if (!s.config.iommu_enabled) {
    Access a;
    a.allowed = true;
    a.untranslated = true;
    return {a, a};
  }
  const std::optional<DomainSerial> domain =
      device_known(s, bdf) ? attachment(s, bdf) : std::nullopt;
  if (!domain) {
    return {fault(0x2), fault(0x2)};  // context entry not present
  }
  if (s.config.address_width < 64 && (iova >> s.config.address_width) != 0) {
    return {fault(0x4), fault(0x4)};  // beyond the address width
  }
  // Legacy second-level entries have no present bit: "not mapped" is "no permission".
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
    Access a;
    a.allowed = true;
    a.buffer = g.buffer;
    a.page = page - first;
    return {(flags & kDirToDevice) != 0 ? a : fault(0x6),
            (flags & kDirFromDevice) != 0 ? a : fault(0x5)};
  }
  return {fault(0x6), fault(0x5)};
}

// One direction of access_both: the first grant of the device's domain that holds the page
// decides both directions, so computing them together changes neither.
Access can_access(const State& s, Bdf bdf, uint64_t iova, Dir dir) {
  const detail::AccessPair both = detail::access_both(s, bdf, iova);
  return dir == Dir::Read ? both.read : both.write;
}

}  // namespace kniommu::model
