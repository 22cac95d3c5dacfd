#include "qemu/qemu_machine.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace kniommu::qemu {
namespace {

constexpr std::uint64_t kMiB = 1ull << 20;
constexpr std::uint32_t kBarBase = 0xE0000000;   // inside q35's 32-bit PCI hole
constexpr std::uint32_t kBusWindow = 16 * kMiB;  // one root-port window per bus
constexpr std::uint32_t kEduBarSize = 1 * kMiB;
constexpr std::uint64_t kEduBufferAddr = 0x40000;  // edu's device-side buffer address
// Registers of the remapping unit (VT-d spec §10.4) and of edu (QEMU docs/specs/edu.rst).
constexpr std::uint32_t kRegCap = 0x08, kRegFsts = 0x34;
constexpr std::uint32_t kEduId = 0x00, kEduDmaSrc = 0x80, kEduDmaDst = 0x88, kEduDmaCount = 0x90,
                        kEduDmaCmd = 0x98;
constexpr std::uint32_t kEduIdValue = 0x010000ed;

std::uint8_t bus_of(std::uint16_t bdf) { return static_cast<std::uint8_t>(bdf >> 8); }
unsigned dev_of(std::uint16_t bdf) { return (bdf >> 3) & 0x1F; }
unsigned fn_of(std::uint16_t bdf) { return bdf & 0x7; }

std::string hexs(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Bus-0 slots the root ports of secondary buses take: the first free ones from 0x10 up.
std::map<std::uint8_t, unsigned> root_port_slots(const KnSimConfig& c) {
  std::set<unsigned> used = {0, 0x1F};
  std::set<std::uint8_t> buses;
  for (std::size_t i = 0; i < c.device_count; ++i) {
    if (bus_of(c.devices[i]) == 0)
      used.insert(dev_of(c.devices[i]));
    else
      buses.insert(bus_of(c.devices[i]));
  }
  std::map<std::uint8_t, unsigned> slots;
  unsigned next = 0x10;
  for (std::uint8_t b : buses) {
    while (used.count(next)) ++next;
    slots[b] = next++;
  }
  return slots;
}

std::uint32_t config_address(std::uint8_t bus, unsigned dev, unsigned fn, unsigned off) {
  return 0x80000000u | (std::uint32_t{bus} << 16) | (dev << 11) | (fn << 8) | (off & 0xFC);
}

}  // namespace

std::string unsupported_reason(const KnSimConfig& c) {
  if (c.phys_mem_bytes < 16 * kMiB || c.phys_mem_bytes > 2048 * kMiB || c.phys_mem_bytes % kMiB)
    return "phys_mem_bytes " + std::to_string(c.phys_mem_bytes) +
           ": the QEMU backend needs whole MiB between 16 MiB and 2 GiB (RAM below the PCI hole)";
  if (c.device_count > 0 && c.devices == nullptr) return "devices: null with device_count > 0";
  std::set<std::uint16_t> seen;
  for (std::size_t i = 0; i < c.device_count; ++i) {
    const std::uint16_t bdf = c.devices[i];
    if (!seen.insert(bdf).second) return "device " + hexs(bdf) + " listed twice";
    if (bus_of(bdf) == 0 && (dev_of(bdf) == 0 || dev_of(bdf) == 0x1F))
      return "device " + hexs(bdf) + ": slot taken by q35's host bridge / LPC";
    if (bus_of(bdf) > 15) return "device " + hexs(bdf) + ": the QEMU backend numbers buses 0-15";
    if (bus_of(bdf) != 0 && dev_of(bdf) != 0)
      return "device " + hexs(bdf) + ": behind a PCIe root port only device 0 exists";
  }
  if (root_port_slots(c).size() > 8) return "more than 8 secondary buses";
  if (c.iommu_enabled == 0) return {};
  if ((c.sagaw & 0x8) != 0 || c.mgaw == 57)
    return "sagaw/mgaw: 5-level tables (QEMU 7.2 rejects aw-bits 52 and 57)";
  if (c.mgaw == 39) {
    if (c.sagaw != 0x2) return "sagaw " + hexs(c.sagaw) + " with mgaw 39: QEMU advertises 0x2";
  } else if (c.mgaw == 48) {
    if ((c.sagaw & 0x4) == 0 || (c.sagaw & ~0x6u) != 0)
      return "sagaw " + hexs(c.sagaw) + " with mgaw 48: QEMU advertises 0x6 (3 and 4 levels)";
  } else {
    return "mgaw " + std::to_string(c.mgaw) + ": QEMU offers 39 or 48";
  }
  if (c.sllps != 0x3)
    return "sllps " + hexs(c.sllps) + ": QEMU 7.2 always advertises 2 MiB and 1 GiB pages (0x3)";
  if (c.nd != 6) return "nd " + std::to_string(c.nd) + ": QEMU has 16-bit domain IDs (ND=6)";
  if (c.mamv != 18) return "mamv " + std::to_string(c.mamv) + ": QEMU's MAMV is 18";
  return {};
}

std::vector<std::string> machine_arguments(const KnSimConfig& c) {
  std::vector<std::string> a = {"-machine",
                                "q35",
                                "-accel",
                                "tcg",
                                "-icount",
                                "shift=0,sleep=off",
                                "-nodefaults",
                                "-display",
                                "none",
                                "-m",
                                std::to_string(c.phys_mem_bytes / kMiB) + "M"};
  if (c.iommu_enabled != 0) {
    std::string iommu = "intel-iommu,aw-bits=" + std::to_string(c.mgaw);
    if (c.caching_mode != 0) iommu += ",caching-mode=on";
    a.insert(a.end(), {"-device", iommu});
  }
  const auto slots = root_port_slots(c);
  for (const auto& [bus, slot] : slots)
    a.insert(a.end(), {"-device", "pcie-root-port,id=rp" + std::to_string(bus) +
                                      ",bus=pcie.0,addr=" + hexs(slot) + ",chassis=" +
                                      std::to_string(bus) + ",slot=" + std::to_string(bus)});
  std::map<std::pair<unsigned, unsigned>, int> functions;  // (bus, slot) -> count
  for (std::size_t i = 0; i < c.device_count; ++i)
    ++functions[{bus_of(c.devices[i]), dev_of(c.devices[i])}];
  // QEMU hides functions 1-7 of a slot whose function 0 is empty: a pci-testdev (no DMA engine,
  // not a device of the configuration) fills function 0 there.
  std::set<std::pair<unsigned, unsigned>> has_fn0;
  for (std::size_t i = 0; i < c.device_count; ++i)
    if (fn_of(c.devices[i]) == 0) has_fn0.insert({bus_of(c.devices[i]), dev_of(c.devices[i])});
  for (const auto& [where, count] : functions) {
    (void)count;
    if (has_fn0.count(where)) continue;
    std::string filler = "pci-testdev,multifunction=on,addr=" + hexs(where.second) + ".0";
    if (where.first != 0) filler += ",bus=rp" + std::to_string(where.first);
    a.insert(a.end(), {"-device", filler});
  }
  for (std::size_t i = 0; i < c.device_count; ++i) {
    const std::uint16_t bdf = c.devices[i];
    std::string edu = "edu,dma_mask=0xffffffffffffffff,addr=" + hexs(dev_of(bdf)) + "." +
                      std::to_string(fn_of(bdf));
    if (bus_of(bdf) != 0) edu += ",bus=rp" + std::to_string(bus_of(bdf));
    // A function other than 0 (or several in one slot) needs the multifunction bit.
    if (fn_of(bdf) == 0 && functions[{bus_of(bdf), dev_of(bdf)}] > 1) edu += ",multifunction=on";
    a.insert(a.end(), {"-device", edu});
  }
  return a;
}

Retcode QemuMachine::start(const KnSimConfig& config, std::unique_ptr<QemuMachine>* out,
                           std::string* error) {
  if (std::string why = unsupported_reason(config); !why.empty()) {
    *error = "configuration not provided by QEMU: " + why;
    return rcInvalidArgument;
  }
  std::unique_ptr<QemuMachine> m(new QemuMachine());
  m->iommu_ = config.iommu_enabled != 0;
  m->ram_bytes_ = config.phys_mem_bytes;
  LaunchOptions opts;
  if (const char* bin = std::getenv("KNIOMMU_QEMU"); bin != nullptr && *bin != 0) opts.binary = bin;
  opts.args = machine_arguments(config);
  // KNIOMMU_QEMU_TRACE=PATTERN adds QEMU's -trace (e.g. 'vtd_*'); see KNIOMMU_QEMU_LOG.
  if (const char* t = std::getenv("KNIOMMU_QEMU_TRACE"); t != nullptr && *t != 0)
    opts.args.insert(opts.args.end(), {"-trace", t});
  if (Retcode rc = QtestClient::launch(opts, &m->qtest_, error); rc != rcOk) return rc;
  if (Retcode rc = m->setup_pci(config, error); rc != rcOk) return rc;
  if (m->iommu_) {
    const std::uint64_t cap = m->qtest_->readq(kDmarBase + kRegCap);
    m->fro_ = static_cast<std::uint32_t>((cap >> 24) & 0x3FF) * 16;  // CAP.FRO, 16-byte units
  }
  if (m->qtest_->failed()) {
    *error = m->qtest_->error();
    return rcInternalError;
  }
  *out = std::move(m);
  return rcOk;
}

Retcode QemuMachine::setup_pci(const KnSimConfig& c, std::string* error) {
  QtestClient& q = *qtest_;
  auto cfg_write = [&](std::uint8_t bus, unsigned dev, unsigned fn, unsigned off, std::uint32_t v) {
    q.outl(0xCF8, config_address(bus, dev, fn, off));
    q.outl(0xCFC, v);
  };
  auto cfg_read = [&](std::uint8_t bus, unsigned dev, unsigned fn, unsigned off) {
    q.outl(0xCF8, config_address(bus, dev, fn, off));
    return q.inl(0xCFC);
  };
  for (const auto& [bus, slot] : root_port_slots(c)) {
    const std::uint32_t base = kBarBase + bus * kBusWindow;
    const std::uint32_t limit = base + kBusWindow - 1;
    cfg_write(0, slot, 0, 0x18, (std::uint32_t{bus} << 16) | (std::uint32_t{bus} << 8));
    cfg_write(0, slot, 0, 0x20, ((base >> 16) & 0xFFF0) | (((limit >> 16) & 0xFFF0) << 16));
    cfg_write(0, slot, 0, 0x04, 0x6);  // memory space + bus master
  }
  std::map<std::uint8_t, unsigned> per_bus;
  for (std::size_t i = 0; i < c.device_count; ++i) {
    const std::uint16_t bdf = c.devices[i];
    const std::uint8_t bus = bus_of(bdf);
    const std::uint32_t bar = kBarBase + bus * kBusWindow + per_bus[bus]++ * kEduBarSize;
    const std::uint32_t id = cfg_read(bus, dev_of(bdf), fn_of(bdf), 0);
    if (id != 0x11e81234) {
      *error = "edu at " + hexs(bdf) + " not found in PCI config space (read " + hexs(id) + ")";
      return rcInternalError;
    }
    cfg_write(bus, dev_of(bdf), fn_of(bdf), 0x10, bar);
    cfg_write(bus, dev_of(bdf), fn_of(bdf), 0x04, 0x6);
    if (q.readl(bar + kEduId) != kEduIdValue) {
      *error = "edu at " + hexs(bdf) + ": BAR0 " + hexs(bar) + " does not answer";
      return rcInternalError;
    }
    bar_[bdf] = bar;
  }
  return rcOk;
}

FaultRecord QemuMachine::read_fault() {
  FaultRecord f;
  if (!iommu_) return f;
  const std::uint32_t fsts = qtest_->readl(kDmarBase + kRegFsts);
  if ((fsts & 0x2) == 0) return f;  // FSTS.PPF: no fault record pending
  const std::uint64_t lo = qtest_->readq(kDmarBase + fro_);
  const std::uint64_t hi = qtest_->readq(kDmarBase + fro_ + 8);
  if ((hi >> 63) == 0) return f;
  f.present = true;
  f.address = lo & ~std::uint64_t{0xFFF};
  f.reason = static_cast<std::uint8_t>(hi >> 32);
  f.sid = static_cast<std::uint16_t>(hi);
  f.is_read = ((hi >> 62) & 1) != 0;
  return f;
}

void QemuMachine::clear_fault() {
  if (!iommu_) return;
  qtest_->writel(kDmarBase + fro_ + 12, 0x80000000u);  // FRCD.F (bit 127 of the record)
  qtest_->writel(kDmarBase + kRegFsts, 0x1);           // FSTS.PFO
}

Retcode QemuMachine::edu_dma(std::uint16_t bdf, std::uint64_t iova, std::size_t len, bool is_write,
                             FaultRecord* fault) {
  auto it = bar_.find(bdf);
  if (it == bar_.end()) return rcDeviceNotFound;
  if (len == 0 || len > kEduMaxTransfer) return rcInvalidArgument;
  const std::uint32_t bar = it->second;
  auto guard = qtest_->lock();
  if (qtest_->failed()) return rcInternalError;
  clear_fault();
  qtest_->writeq(bar + kEduDmaSrc, is_write ? kEduBufferAddr : iova);
  qtest_->writeq(bar + kEduDmaDst, is_write ? iova : kEduBufferAddr);
  qtest_->writeq(bar + kEduDmaCount, len);
  qtest_->writeq(bar + kEduDmaCmd, is_write ? 0x3 : 0x1);  // start | direction (1 = to RAM)
  // edu starts 100 ms of virtual time later; with icount sleep=off that passes at once while
  // the vCPU halts, so a few polls suffice. Bounded in wall-clock time all the same.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((qtest_->readl(bar + kEduDmaCmd) & 1) != 0) {
    if (qtest_->failed()) return rcInternalError;
    if (std::chrono::steady_clock::now() > deadline) return rcTimeout;
  }
  if (qtest_->failed()) return rcInternalError;
  *fault = read_fault();
  return qtest_->failed() ? rcInternalError : rcOk;
}

}  // namespace kniommu::qemu
