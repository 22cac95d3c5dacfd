// Hardware over impl/hw: SimPhysMem, the emulated RemappingUnit and the PCIe bus.
#include "kos/hardware.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "hw/pcie_bus.h"
#include "hw/remapping_unit.h"
#include "hw/sim_phys_mem.h"
#include "hw/unit_config.h"
#include "kos/qemu_hardware.h"

namespace kniommu::kos {
namespace {

class SimHardware final : public Hardware {
 public:
  SimHardware(const KnSimConfig& config, const hw::UnitConfig& unit_config)
      : mem_(config.phys_mem_bytes),
        haw_(unit_config.haw),
        unit_(config.iommu_enabled != 0 ? std::make_unique<hw::RemappingUnit>(unit_config, mem_)
                                        : nullptr),
        bus_(mem_, unit_.get()) {
    for (std::size_t i = 0; i < config.device_count; ++i) bus_.add_device(config.devices[i]);
  }

  vtd::PhysMem& mem() override { return mem_; }
  vtd::Mmio* mmio() override { return unit_.get(); }
  bool device_known(std::uint16_t bdf) const override { return bus_.has_device(bdf); }
  unsigned host_address_width() const override { return haw_; }

  Retcode device_dma(std::uint16_t bdf, std::uint64_t iova, void* data, std::size_t len,
                     bool is_write, std::uint8_t* fault_reason) override {
    if (data == nullptr && len != 0) return rcInvalidArgument;
    std::uint8_t reason = 0;
    const Retcode rc = bus_.dma(bdf, iova, data, len, is_write, &reason);
    if (fault_reason != nullptr) *fault_reason = reason;
    return rc;
  }

  Retcode phys_read(std::uint64_t pa, void* out, std::size_t len) override {
    if (out == nullptr && len != 0) return rcInvalidArgument;
    if (pa + len < pa || !mem_.contains(pa, len)) return rcInvalidArgument;
    mem_.read(pa, out, len);
    return rcOk;
  }

  // phys_read returns read(), the CPU's view: the memory's own write generations describe it.
  std::uint64_t phys_frame_generation(std::uint64_t frame_pa) override {
    return mem_.frame_generation(frame_pa);
  }

  Retcode cache_snapshot(KnSimCacheEntry* out, std::size_t capacity, std::size_t* count) override {
    if (count == nullptr || (out == nullptr && capacity != 0)) return rcInvalidArgument;
    if (unit_ == nullptr) {
      *count = 0;
      return rcOk;
    }
    const std::vector<KnSimCacheEntry> all = unit_->cache_snapshot();
    std::copy_n(all.begin(), std::min(capacity, all.size()), out);
    *count = all.size();
    return rcOk;
  }

  std::uint64_t use_after_free_count() override {
    return unit_ != nullptr ? unit_->use_after_free_count() : 0;
  }
  std::uint64_t frames_in_use() override { return mem_.frames_in_use(); }
  std::uint64_t protocol_violation_count() override {
    return unit_ != nullptr ? unit_->protocol_violation_count() : 0;
  }
  std::string protocol_violation_log() override {
    return unit_ != nullptr ? unit_->protocol_violation_log() : std::string{};
  }

 private:
  hw::SimPhysMem mem_;
  unsigned haw_;
  std::unique_ptr<hw::RemappingUnit> unit_;  // declared after mem_: destroyed first
  hw::PcieBus bus_;
};

}  // namespace

namespace {
thread_local std::string g_last_error;
}

const std::string& Hardware::last_error() { return g_last_error; }

Retcode Hardware::create(const KnSimConfig& config, std::unique_ptr<Hardware>* out) {
  g_last_error.clear();
  if (config.hardware == KN_SIM_HARDWARE_QEMU) {
    const Retcode rc = create_qemu_hardware(config, out, &g_last_error);
    if (rc != rcOk) std::fprintf(stderr, "kniommu: QEMU backend: %s\n", g_last_error.c_str());
    return rc;
  }
  if (config.hardware != KN_SIM_HARDWARE_EMULATOR) {
    g_last_error = "unknown hardware backend " + std::to_string(config.hardware);
    return rcInvalidArgument;
  }
  if (config.phys_mem_bytes < 2 * vtd::kPageSize) return rcInvalidArgument;
  const hw::UnitConfig unit = hw::unit_config_from_sim(config);
  if (config.iommu_enabled != 0 && (unit.nd > 6 || unit.mgaw < 39 || unit.mgaw > 64))
    return rcInvalidArgument;
  *out = std::make_unique<SimHardware>(config, unit);
  return rcOk;
}

}  // namespace kniommu::kos
