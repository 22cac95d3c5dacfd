// A q35 machine in QEMU 7.2 with its VT-d unit (intel-iommu) and one `edu` device per BDF of a
// KnSimConfig, set up over qtest as firmware would: PCIe root ports get their bus numbers and
// memory windows, every edu gets its BAR and memory + bus-master enable. edu is the DMA engine:
// it copies between guest memory (a bus address, translated by the remapping unit) and its own
// 4 KiB buffer, and its buffer is filled only by its own DMA reads (docs/qemu-backend.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kniommu/sim.h"
#include "qemu/qtest_client.h"

namespace kniommu::qemu {

inline constexpr std::uint64_t kDmarBase = 0xFED90000;  // QEMU's intel-iommu register page
inline constexpr std::size_t kEduBufferBytes = 4096;    // edu's DMA buffer
// The longest edu transfer: QEMU 7.2's edu checks that the buffer-side range *end* lies strictly
// inside its buffer, so a 4096-byte transfer fails that check and aborts QEMU (hw_error).
inline constexpr std::size_t kEduMaxTransfer = kEduBufferBytes - 1;

// Empty when QEMU 7.2 can provide `config` as asked; otherwise why not, naming the field.
std::string unsupported_reason(const KnSimConfig& config);
// QEMU's machine arguments for `config` (without -bios/-qtest, which the client adds).
std::vector<std::string> machine_arguments(const KnSimConfig& config);

// A fault as the driver reads it from FSTS and the fault recording register (VT-d spec §10.4.14).
struct FaultRecord {
  bool present = false;
  std::uint8_t reason = 0;
  std::uint64_t address = 0;  // page address of the faulting request
  std::uint16_t sid = 0;
  bool is_read = false;  // FRCD.T: 1 = read request
};

class QemuMachine {
 public:
  static Retcode start(const KnSimConfig& config, std::unique_ptr<QemuMachine>* out,
                       std::string* error);

  QtestClient& qtest() { return *qtest_; }
  bool iommu_enabled() const { return iommu_; }
  std::uint64_t ram_bytes() const { return ram_bytes_; }
  bool has_device(std::uint16_t bdf) const { return bar_.count(bdf) != 0; }

  // One edu DMA of `len` (1..4096) bytes between bus address `iova` and buffer offset 0:
  // is_write = false reads memory into the buffer, true writes the buffer to memory. Clears a
  // fault record left by the previous DMA first (NFR=1: QEMU records nothing while F is set),
  // then reads FSTS/FRCD afterwards into *fault. rcTimeout / rcInternalError if QEMU fails.
  Retcode edu_dma(std::uint16_t bdf, std::uint64_t iova, std::size_t len, bool is_write,
                  FaultRecord* fault);

  // FSTS/FRCD read as a driver does (does not clear).
  FaultRecord read_fault();
  // Clears FRCD.F and FSTS.PFO (both RW1C).
  void clear_fault();

 private:
  QemuMachine() = default;
  Retcode setup_pci(const KnSimConfig& config, std::string* error);

  std::unique_ptr<QtestClient> qtest_;
  bool iommu_ = false;
  std::uint64_t ram_bytes_ = 0;
  std::uint32_t fro_ = 0;                       // CAP.FRO * 16
  std::map<std::uint16_t, std::uint32_t> bar_;  // BDF -> edu BAR0
};

}  // namespace kniommu::qemu
