// The physical-memory interface the driver-side VT-d code programs through. The same code runs on
// the simulated memory of impl/hw (SimPhysMem) here and would run on a direct map in a kernel.
// Contract: no exceptions; allocation failure is reported as rcOutOfMemory; frames come zeroed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kniommu/retcode.h"

namespace kniommu::vtd {

using PhysAddr = std::uint64_t;
inline constexpr std::uint64_t kPageSize = 4096;
inline constexpr unsigned kPageShift = 12;

class PhysMem {
 public:
  virtual ~PhysMem() = default;

  // 64-bit little-endian word at an 8-byte aligned physical address. A VT-d table entry is
  // written by the driver with single 64-bit stores (the present word last), so a concurrent
  // walker never sees a torn word.
  virtual std::uint64_t read64(PhysAddr pa) const = 0;
  virtual void write64(PhysAddr pa, std::uint64_t value) = 0;

  // Byte access (buffers, descriptors' status writes). Ranges may cross frames.
  virtual void read(PhysAddr pa, void* out, std::size_t len) const = 0;
  virtual void write(PhysAddr pa, const void* in, std::size_t len) = 0;

  // 2^order physically contiguous, naturally aligned, zeroed 4 KiB frames. `limit` (exclusive) is
  // the highest usable address + 1 (e.g. 4 GiB for DMA32); 0 means no limit.
  virtual Retcode alloc_frames(unsigned order, PhysAddr limit, PhysAddr* out) = 0;
  virtual void free_frames(PhysAddr pa, unsigned order) = 0;

  Retcode alloc_frame(PhysAddr* out) { return alloc_frames(0, 0, out); }
  void free_frame(PhysAddr pa) { free_frames(pa, 0); }

 protected:
  PhysMem() = default;
  PhysMem(const PhysMem&) = default;
  PhysMem& operator=(const PhysMem&) = default;
};

}  // namespace kniommu::vtd
