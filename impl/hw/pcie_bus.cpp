#include "hw/pcie_bus.h"

#include <vector>

namespace kniommu::hw {

void PcieBus::add_device(std::uint16_t bdf) {
  std::lock_guard lock(mu_);
  devices_.insert(bdf);
}

bool PcieBus::has_device(std::uint16_t bdf) const {
  std::lock_guard lock(mu_);
  return devices_.count(bdf) != 0;
}

Retcode PcieBus::dma(std::uint16_t bdf, std::uint64_t iova, void* data, std::size_t len,
                     bool is_write, std::uint8_t* fault_reason, RequestKind kind) {
  std::uint8_t ignored = 0;
  std::uint8_t& reason = fault_reason != nullptr ? *fault_reason : ignored;
  reason = 0;
  if (!has_device(bdf)) return rcDeviceNotFound;
  if (len == 0) return rcOk;
  if (data == nullptr || iova + len < iova) return rcInvalidArgument;

  std::vector<DmaChunk> chunks;
  if (unit_ != nullptr) {
    const Fault f = unit_->translate_range(bdf, iova, len, is_write, &chunks, kind);
    if (f != Fault::kNone) {
      reason = static_cast<std::uint8_t>(f);
      return rcFail;
    }
  } else {
    chunks.push_back(DmaChunk{iova, len});
  }
  for (const DmaChunk& c : chunks) {
    if (!mem_.contains(c.pa, c.len)) return rcFail;  // master abort, nothing transferred
  }
  auto* bytes = static_cast<unsigned char*>(data);
  for (const DmaChunk& c : chunks) {
    if (is_write) {
      mem_.device_write(c.pa, bytes, c.len);  // snooped: coherent with the CPU cache
    } else {
      mem_.read(c.pa, bytes, c.len);
    }
    bytes += c.len;
  }
  return rcOk;
}

}  // namespace kniommu::hw
