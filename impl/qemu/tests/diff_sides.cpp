// The two sides of the walker differential: our emulated unit (impl/hw) configured with QEMU's
// capabilities, and QEMU itself (aw-bits=48: SAGAW 3+4 levels, SLLPS 2M+1G, NFR=1, ECAP.PT=1).
#include <array>
#include <map>

#include "hw/pcie_bus.h"
#include "hw/remapping_unit.h"
#include "hw/sim_phys_mem.h"
#include "kos/hardware.h"
#include "kos/qemu_hardware.h"
#include "qemu/tests/walker_differential.h"

namespace kniommu::qemu::diff {
namespace {

constexpr std::uint64_t kRam = 512ull << 20;
const std::uint16_t kSides[] = {0x0008, 0x0010};

hw::UnitConfig qemu_like_unit(unsigned mgaw) {
  hw::UnitConfig c;
  c.sagaw = mgaw == 39 ? 0x2 : 0x6;
  c.mgaw = mgaw;
  c.haw = mgaw;  // QEMU 7.2 checks table addresses against aw-bits (its host width is MGAW)
  c.sllps = 0x3;
  c.nd = 6;
  c.mamv = 18;
  c.nfr = 0;
  // QEMU advertises ECAP.C = 0 but reads guest memory directly; the differential writes tables
  // without cache flushes, so the emulator side walks coherently, as QEMU in fact does.
  c.coherent = true;
  c.pass_through = true;
  c.device_tlb = false;
  c.detect_use_after_free = false;  // structures are written at fixed addresses, not allocated
  return c;
}

class EmulatorSide final : public Side {
 public:
  explicit EmulatorSide(const hw::UnitConfig& c) : mem_(kRam), unit_(c, mem_), bus_(mem_, &unit_) {
    for (std::uint16_t b : kSides) bus_.add_device(b);
  }
  const char* name() const override { return "emulator"; }
  vtd::PhysMem& mem() override { return mem_; }
  vtd::Mmio& mmio() override { return unit_; }
  Retcode dma(std::uint16_t bdf, std::uint64_t iova, std::size_t len, bool is_write) override {
    auto& buf = buffers_[bdf];
    std::uint8_t reason = 0;
    const Retcode rc = bus_.dma(bdf, iova, buf.data(), len, is_write, &reason);
    if (rc != rcOk && !is_write) std::fill(buf.begin(), buf.begin() + static_cast<long>(len), 0);
    return rc == rcDeviceNotFound ? rc : rcOk;  // faults are judged through FSTS/FRCD
  }

 private:
  hw::SimPhysMem mem_;
  hw::RemappingUnit unit_;
  hw::PcieBus bus_;
  std::map<std::uint16_t, std::array<std::uint8_t, 4096>> buffers_;
};

class QemuSide final : public Side {
 public:
  explicit QemuSide(std::unique_ptr<kos::Hardware> hw) : hw_(std::move(hw)) {}
  const char* name() const override { return "QEMU"; }
  vtd::PhysMem& mem() override { return hw_->mem(); }
  vtd::Mmio& mmio() override { return *hw_->mmio(); }
  Retcode dma(std::uint16_t bdf, std::uint64_t iova, std::size_t len, bool is_write) override {
    std::uint8_t reason = 0;
    const Retcode rc = hw_->device_dma(bdf, iova, nullptr, len, is_write, &reason);
    return rc == rcFail ? rcOk : rc;  // faults are judged through FSTS/FRCD
  }

 private:
  std::unique_ptr<kos::Hardware> hw_;
};

}  // namespace

std::unique_ptr<Side> make_emulator_side(int seeded_bug, unsigned mgaw) {
  hw::UnitConfig c = qemu_like_unit(mgaw);
  if (seeded_bug == 1) c.sllps = 0x1;
  if (seeded_bug == 2) c.haw = 46;
  if (seeded_bug == 3) c.pass_through = false;
  return std::make_unique<EmulatorSide>(c);
}

Retcode make_qemu_side(std::unique_ptr<Side>* out, std::string* error, unsigned mgaw) {
  KnSimConfig c;
  KnSimDefaultConfig(&c);
  c.hardware = KN_SIM_HARDWARE_QEMU;
  c.sagaw = mgaw == 39 ? 0x2 : 0x6;
  c.mgaw = mgaw;
  c.phys_mem_bytes = kRam;
  c.devices = kSides;
  c.device_count = 2;
  std::unique_ptr<kos::Hardware> hw;
  if (Retcode rc = kos::create_qemu_hardware(c, &hw, error); rc != rcOk) return rc;
  *out = std::make_unique<QemuSide>(std::move(hw));
  return rcOk;
}

}  // namespace kniommu::qemu::diff
