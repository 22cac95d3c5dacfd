// The simulated machine a System runs on: physical memory, the emulated VT-d remapping unit (absent
// when the IOMMU is disabled) and the PCIe bus with its devices. A thin owner over impl/hw, so the
// rest of impl/kos sees only vtd::PhysMem and vtd::Mmio — what a kernel would see.
//
// Thread safety: everything here is safe to call concurrently (the hw objects lock internally);
// device DMA in particular runs without the System mutex, as real devices do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kniommu/sim.h"
#include "vtd/mmio.h"
#include "vtd/phys_mem.h"

namespace kniommu::kos {

class Hardware {
 public:
  // What a backend can show (docs/qemu-backend.md). A check that needs a missing feature is
  // skipped and counted as skipped, never passed.
  enum Feature : std::uint32_t {
    kCacheSnapshot = 1u << 0,  // cache_snapshot() lists the unit's context cache and IOTLB
    kUseAfterFree = 1u << 1,   // use_after_free_count() counts
    kDmaBytes = 1u << 2,       // device_dma moves the caller's bytes both ways
    kAllFeatures = kCacheSnapshot | kUseAfterFree | kDmaBytes,
  };

  static Retcode create(const KnSimConfig& config, std::unique_ptr<Hardware>* out);
  virtual ~Hardware() = default;
  Hardware(const Hardware&) = delete;
  Hardware& operator=(const Hardware&) = delete;

  virtual vtd::PhysMem& mem() = 0;
  virtual vtd::Mmio* mmio() = 0;  // nullptr: IOMMU disabled
  virtual bool device_known(std::uint16_t bdf) const = 0;
  virtual Retcode device_dma(std::uint16_t bdf, std::uint64_t iova, void* data, std::size_t len,
                             bool is_write, std::uint8_t* fault_reason) = 0;
  virtual Retcode phys_read(std::uint64_t pa, void* out, std::size_t len) = 0;
  virtual Retcode cache_snapshot(KnSimCacheEntry* out, std::size_t capacity,
                                 std::size_t* count) = 0;
  virtual std::uint64_t use_after_free_count() = 0;
  virtual std::uint64_t frames_in_use() = 0;
  // Host physical address width (CPUID MAXPHYADDR on real hardware; not in CAP): page-table
  // pointers must stay below it.
  virtual unsigned host_address_width() const = 0;
  virtual std::uint32_t features() const { return kAllFeatures; }
  // Why the last create() on this thread failed (empty after success).
  static const std::string& last_error();
  // Driver protocol violations the hardware detected (docs/emulator.md "Protocol violations");
  // hardware that cannot tell (a real machine) reports none.
  virtual std::uint64_t protocol_violation_count() { return 0; }
  virtual std::string protocol_violation_log() { return {}; }
  // Write generation of a 4 KiB frame as phys_read returns it (KnSimPhysFrameGeneration): changes
  // on every write, never repeats; 0 = unknown (hardware that cannot tell: QEMU).
  virtual std::uint64_t phys_frame_generation(std::uint64_t frame_pa) {
    static_cast<void>(frame_pa);
    return 0;
  }

 protected:
  Hardware() = default;
};

}  // namespace kniommu::kos
