#include "kos/qemu_hardware.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "hw/sim_phys_mem.h"
#include "qemu/qemu_machine.h"

namespace kniommu::kos {
namespace {

using qemu::FaultRecord;
using qemu::kDmarBase;
using qemu::kEduMaxTransfer;
using qemu::QemuMachine;
using qemu::QtestClient;

constexpr std::uint64_t kLowReserved = 1ull << 20;  // legacy VGA/BIOS area: never handed out

// Guest RAM over qtest. Allocation uses an (otherwise unused) SimPhysMem as the buddy allocator;
// its host storage is never touched, so it costs nothing.
class QemuPhysMem final : public vtd::PhysMem {
 public:
  QemuPhysMem(QtestClient& q, std::uint64_t bytes) : q_(q), alloc_(bytes), bytes_(bytes) {
    // Frames below 1 MiB hold QEMU's legacy holes; keep them out of the allocator's hands.
    for (vtd::PhysAddr pa = 0; pa < kLowReserved;) {
      if (alloc_.alloc_frames(0, kLowReserved, &pa) != rcOk) break;
      ++reserved_;
    }
  }

  std::uint64_t read64(vtd::PhysAddr pa) const override { return q_.readq(pa); }
  void write64(vtd::PhysAddr pa, std::uint64_t v) override { q_.writeq(pa, v); }
  void read(vtd::PhysAddr pa, void* out, std::size_t len) const override {
    auto* p = static_cast<std::uint8_t*>(out);
    for (std::size_t off = 0; off < len; off += kChunk)
      q_.read(pa + off, p + off, std::min(kChunk, len - off));
  }
  void write(vtd::PhysAddr pa, const void* in, std::size_t len) override {
    const auto* p = static_cast<const std::uint8_t*>(in);
    for (std::size_t off = 0; off < len; off += kChunk)
      q_.write(pa + off, p + off, std::min(kChunk, len - off));
  }
  Retcode alloc_frames(unsigned order, vtd::PhysAddr limit, vtd::PhysAddr* out) override {
    const Retcode rc = alloc_.alloc_frames(order, limit, out);
    if (rc == rcOk) q_.memset(*out, vtd::kPageSize << order, 0);  // frames come zeroed
    return rc;
  }
  void free_frames(vtd::PhysAddr pa, unsigned order) override { alloc_.free_frames(pa, order); }

  bool contains(std::uint64_t pa, std::uint64_t len) const {
    return pa <= bytes_ && len <= bytes_ - pa;
  }
  std::uint64_t frames_in_use() const { return alloc_.frames_in_use() - reserved_; }

 private:
  static constexpr std::size_t kChunk = 16384;
  QtestClient& q_;
  hw::SimPhysMem alloc_;
  std::uint64_t bytes_;
  std::uint64_t reserved_ = 0;
};

// The remapping unit's register page, every offset readable and writable (32 and 64 bit).
class QemuMmio final : public vtd::Mmio {
 public:
  explicit QemuMmio(QtestClient& q) : q_(q) {}
  std::uint32_t read32(std::uint32_t off) override { return q_.readl(kDmarBase + off); }
  std::uint64_t read64(std::uint32_t off) override { return q_.readq(kDmarBase + off); }
  void write32(std::uint32_t off, std::uint32_t v) override { q_.writel(kDmarBase + off, v); }
  void write64(std::uint32_t off, std::uint64_t v) override { q_.writeq(kDmarBase + off, v); }

 private:
  QtestClient& q_;
};

class QemuHardware final : public Hardware {
 public:
  explicit QemuHardware(std::unique_ptr<QemuMachine> m)
      : machine_(std::move(m)),
        mem_(machine_->qtest(), machine_->ram_bytes()),
        mmio_(machine_->qtest()) {}

  vtd::PhysMem& mem() override { return mem_; }
  vtd::Mmio* mmio() override { return machine_->iommu_enabled() ? &mmio_ : nullptr; }
  bool device_known(std::uint16_t bdf) const override { return machine_->has_device(bdf); }
  // q35 in QEMU 7.2 TCG: the CPU model's MAXPHYADDR is 40 bits; table pointers stay in RAM anyway.
  unsigned host_address_width() const override { return 39; }
  std::uint32_t features() const override { return 0; }

  // edu semantics: a read fills the device's buffer (`data` is left untouched: the bytes are
  // not visible to the host); a write writes the buffer (whatever the last read put there; `data`
  // is ignored). At most kEduMaxTransfer (4095) bytes: rcInvalidArgument beyond.
  Retcode device_dma(std::uint16_t bdf, std::uint64_t iova, void* data, std::size_t len,
                     bool is_write, std::uint8_t* fault_reason) override {
    (void)data;
    if (fault_reason != nullptr) *fault_reason = 0;
    if (!machine_->has_device(bdf)) return rcDeviceNotFound;
    if (len == 0) return rcOk;
    if (len > kEduMaxTransfer) return rcInvalidArgument;
    if (!machine_->iommu_enabled() && !mem_.contains(iova, len)) return rcFail;  // master abort
    FaultRecord f;
    const Retcode rc = machine_->edu_dma(bdf, iova, len, is_write, &f);
    if (rc != rcOk) return rc;
    if (!f.present) return rcOk;
    if (fault_reason != nullptr) *fault_reason = f.reason;
    return rcFail;
  }

  Retcode phys_read(std::uint64_t pa, void* out, std::size_t len) override {
    if (out == nullptr && len != 0) return rcInvalidArgument;
    if (!mem_.contains(pa, len)) return rcInvalidArgument;
    mem_.read(pa, out, len);
    return machine_->qtest().failed() ? rcInternalError : rcOk;
  }
  Retcode cache_snapshot(KnSimCacheEntry*, std::size_t, std::size_t* count) override {
    if (count != nullptr) *count = 0;
    return rcUnimplemented;  // QEMU's caches are not visible from outside
  }
  std::uint64_t use_after_free_count() override { return 0; }  // not observable: features()
  std::uint64_t frames_in_use() override { return mem_.frames_in_use(); }

 private:
  std::unique_ptr<QemuMachine> machine_;  // declared first: destroyed last
  QemuPhysMem mem_;
  QemuMmio mmio_;
};

}  // namespace

Retcode create_qemu_hardware(const KnSimConfig& config, std::unique_ptr<Hardware>* out,
                             std::string* error) {
  std::unique_ptr<QemuMachine> m;
  if (Retcode rc = QemuMachine::start(config, &m, error); rc != rcOk) return rc;
  *out = std::make_unique<QemuHardware>(std::move(m));
  return rcOk;
}

}  // namespace kniommu::kos
