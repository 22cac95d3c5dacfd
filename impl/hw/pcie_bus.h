// A PCIe bus of devices named by BDF that read and write simulated memory through the remapping
// unit (or straight to physical addresses when the machine has no IOMMU). A request is split at
// 4 KiB boundaries and every page is translated before any byte moves, so a faulting request
// transfers nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>

#include "hw/remapping_unit.h"
#include "hw/sim_phys_mem.h"
#include "kniommu/retcode.h"

namespace kniommu::hw {

class PcieBus {
 public:
  // `unit` null: no remapping hardware, DMA addresses are physical.
  PcieBus(SimPhysMem& mem, RemappingUnit* unit) : mem_(mem), unit_(unit) {}

  void add_device(std::uint16_t bdf);
  bool has_device(std::uint16_t bdf) const;

  // is_write: the device writes `len` bytes from `data` to memory; otherwise it reads into `data`.
  // rcOk; rcDeviceNotFound for an unknown BDF; rcFail with *fault_reason = the VT-d fault reason
  // when translation faults, or 0 when the (translated) address lies outside physical memory
  // (a master abort: no remapping fault exists for it). *fault_reason is 0 on success.
  Retcode dma(std::uint16_t bdf, std::uint64_t iova, void* data, std::size_t len, bool is_write,
              std::uint8_t* fault_reason, RequestKind kind = RequestKind::kUntranslated);

 private:
  SimPhysMem& mem_;
  RemappingUnit* const unit_;
  mutable std::mutex mu_;  // guards devices_ only; never held across a DMA
  std::set<std::uint16_t> devices_;
};

}  // namespace kniommu::hw
