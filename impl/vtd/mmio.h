// MMIO access to one VT-d remapping unit's register file, as the driver sees it. The emulated unit
// (impl/hw) implements it; a kernel would implement it with volatile loads and stores.
// Offsets are the architectural ones (VT-d spec §10.4).
#pragma once

#include <cstdint>

namespace kniommu::vtd {

class Mmio {
 public:
  virtual ~Mmio() = default;
  virtual std::uint32_t read32(std::uint32_t offset) = 0;
  virtual std::uint64_t read64(std::uint32_t offset) = 0;
  virtual void write32(std::uint32_t offset, std::uint32_t value) = 0;
  virtual void write64(std::uint32_t offset, std::uint64_t value) = 0;

 protected:
  Mmio() = default;
  Mmio(const Mmio&) = default;
  Mmio& operator=(const Mmio&) = default;
};

}  // namespace kniommu::vtd
