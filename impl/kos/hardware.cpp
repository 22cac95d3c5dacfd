// Hardware over impl/hw: SimPhysMem, the emulated RemappingUnit, and device DMA (a device's
// request is translated by the unit page by page, then the bytes move through physical memory).
#include "kos/hardware.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "hw/remapping_unit.h"
#include "hw/sim_phys_mem.h"
#include "hw/unit_config.h"

namespace kniommu::kos {
namespace {

class SimHardware final : public Hardware {
 public:
  SimHardware(const KnSimConfig& config, const hw::UnitConfig& unit_config)
      : mem_(config.phys_mem_bytes), haw_(unit_config.haw) {
    for (std::size_t i = 0; i < config.device_count; ++i) devices_.insert(config.devices[i]);
    if (config.iommu_enabled != 0) unit_ = std::make_unique<hw::RemappingUnit>(unit_config, mem_);
  }

  vtd::PhysMem& mem() override { return mem_; }
  vtd::Mmio* mmio() override { return unit_.get(); }
  bool device_known(std::uint16_t bdf) const override { return devices_.contains(bdf); }
  unsigned host_address_width() const override { return haw_; }

  Retcode device_dma(std::uint16_t bdf, std::uint64_t iova, void* data, std::size_t len,
                     bool is_write, std::uint8_t* fault_reason) override {
    if (!device_known(bdf)) return rcDeviceNotFound;
    if (len == 0) return rcOk;
    if (data == nullptr) return rcInvalidArgument;
    std::vector<hw::DmaChunk> chunks;
    if (unit_ == nullptr) {
      // No remapping unit: the address is physical.
      if (iova + len < iova || !mem_.contains(iova, len)) return rcInvalidArgument;
      chunks.push_back({iova, len});
    } else {
      const hw::Fault f = unit_->translate_range(bdf, iova, len, is_write, &chunks);
      if (f != hw::Fault::kNone) {
        if (fault_reason != nullptr) *fault_reason = static_cast<std::uint8_t>(f);
        return rcFail;  // a faulting request transfers nothing
      }
    }
    auto* bytes = static_cast<unsigned char*>(data);
    for (const hw::DmaChunk& c : chunks) {
      if (is_write)
        mem_.write(c.pa, bytes, c.len);
      else
        mem_.read(c.pa, bytes, c.len);
      bytes += c.len;
    }
    return rcOk;
  }

  Retcode phys_read(std::uint64_t pa, void* out, std::size_t len) override {
    if (out == nullptr && len != 0) return rcInvalidArgument;
    if (pa + len < pa || !mem_.contains(pa, len)) return rcInvalidArgument;
    mem_.read(pa, out, len);
    return rcOk;
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

 private:
  hw::SimPhysMem mem_;
  unsigned haw_;
  std::set<std::uint16_t> devices_;
  std::unique_ptr<hw::RemappingUnit> unit_;  // declared after mem_: destroyed first
};

}  // namespace

Retcode Hardware::create(const KnSimConfig& config, std::unique_ptr<Hardware>* out) {
  if (config.phys_mem_bytes < 2 * vtd::kPageSize) return rcInvalidArgument;
  const hw::UnitConfig unit = hw::unit_config_from_sim(config);
  if (config.iommu_enabled != 0 && (unit.nd > 6 || unit.mgaw < 39 || unit.mgaw > 64))
    return rcInvalidArgument;
  *out = std::make_unique<SimHardware>(config, unit);
  return rcOk;
}

}  // namespace kniommu::kos
