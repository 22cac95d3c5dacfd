// The hardware matrix the suite runs on. Each configuration exercises a different part of the
// driver: table depth (3/4/5 levels), superpage support (2 MiB / 1 GiB leaves vs 4 KiB only),
// caching mode (CM=1: not-present entries may be cached, so maps need invalidation too), page-walk
// coherency (ECAP.C=0: the emulator walks memory, CPU stores stay invisible until the driver
// flushes them), a small IOTLB (eviction) and a small MAMV (range invalidations fall back to DSI),
// and the IOMMU switched off (no isolation, IOVA = physical address).
#include <algorithm>

#include "kniommu/conformance.h"

namespace kniommu::conformance {
namespace {

// Two functions on bus 0, one on bus 1 and one on bus 3: several context tables get used.
const std::vector<uint16_t> kDevices = {0x0008, 0x0010, 0x0100, 0x0301};

constexpr uint32_t kSagaw3 = 0x2, kSagaw4 = 0x4, kSagaw5 = 0x8;
constexpr uint32_t kSllps2M = 0x1, kSllps1G = 0x2;
constexpr uint64_t kMiB = 1ull << 20;

KnSimConfig base() {
  KnSimConfig c{};
  c.iommu_enabled = 1;
  c.sagaw = kSagaw4;
  c.mgaw = 48;
  c.sllps = kSllps2M | kSllps1G;
  c.caching_mode = 0;
  c.nd = 6;
  c.mamv = 18;
  c.nfr = 3;  // 4 fault records: undrained faults overflow them (PFO) within a case
  c.coherent = 1;
  c.iotlb_entries = 512;
  c.context_cache_entries = 64;
  // Room for a 1 GiB block next to a filler of almost 1 GiB (sparse: unwritten frames cost
  // nothing).
  c.phys_mem_bytes = 4096 * kMiB;
  return c;
}

HwConfig make(std::string name, std::string description, KnSimConfig sim) {
  return HwConfig{std::move(name), std::move(description), sim, kDevices};
}

std::vector<HwConfig> build() {
  std::vector<HwConfig> out;
  out.push_back(make("l4_sp", "4-level 48-bit, 2M+1G superpages, CM=0", base()));

  KnSimConfig l3 = base();
  l3.sagaw = kSagaw3;
  l3.mgaw = 39;
  l3.sllps = 0;
  l3.nd = 2;
  l3.nfr = 0;  // a single fault record, as QEMU has
  out.push_back(make("l3_nosp", "3-level 39-bit, no superpages, CM=0, 256 DIDs", l3));

  KnSimConfig l3sp = l3;
  l3sp.sllps = kSllps2M;
  l3sp.coherent = 0;
  out.push_back(make("l3_sp_nc", "3-level 39-bit, 2M superpages, CM=0, non-coherent walks", l3sp));

  KnSimConfig l5 = base();
  l5.sagaw = kSagaw4 | kSagaw5;
  l5.mgaw = 57;
  l5.caching_mode = 1;
  out.push_back(make("l5_sp_cm", "5-level 57-bit, 2M+1G superpages, CM=1", l5));

  KnSimConfig tiny = base();
  tiny.sagaw = kSagaw3 | kSagaw4;
  tiny.sllps = 0;
  tiny.caching_mode = 1;
  tiny.mamv = 2;
  tiny.nfr = 1;
  tiny.iotlb_entries = 8;
  tiny.context_cache_entries = 2;
  out.push_back(make("l4_cm_tiny",
                     "4-level, no superpages, CM=1, MAMV=2, 8-entry IOTLB, 2-entry context cache",
                     tiny));

  KnSimConfig off = base();
  off.iommu_enabled = 0;
  out.push_back(make("disabled", "IOMMU disabled: untranslated DMA, no isolation", off));
  return out;
}

std::vector<HwConfig> build_qemu() {
  const auto& std_configs = standard_configs();
  std::vector<HwConfig> out;
  for (const HwConfig& c : std_configs)
    if (c.name == "l4_sp" || c.name == "disabled") out.push_back(c);
  // The QEMU backend keeps RAM below q35's PCI hole (docs/qemu-backend.md): 512 MiB.
  for (HwConfig& c : out) {
    c.sim.phys_mem_bytes = 512 * kMiB;
    c.description += " (512 MiB RAM)";
  }
  KnSimConfig l3 = base();
  l3.sagaw = kSagaw3;
  l3.mgaw = 39;
  l3.phys_mem_bytes = 512 * kMiB;
  out.push_back(make("l3_sp", "3-level 39-bit, 2M+1G superpages, CM=0 (QEMU aw-bits=39)", l3));
  KnSimConfig cm = base();
  cm.caching_mode = 1;
  cm.phys_mem_bytes = 512 * kMiB;
  out.push_back(
      make("l4_sp_cm", "4-level 48-bit, 2M+1G superpages, CM=1 (QEMU caching-mode=on)", cm));
  return out;
}

}  // namespace

const std::vector<HwConfig>& qemu_configs() {
  static const std::vector<HwConfig> configs = build_qemu();
  return configs;
}

KnSimConfig HwConfig::make_sim() const {
  KnSimConfig c = sim;
  c.devices = devices.data();
  c.device_count = devices.size();
  return c;
}

const std::vector<HwConfig>& standard_configs() {
  static const std::vector<HwConfig> configs = build();
  return configs;
}

std::optional<HwConfig> find_config_for(const std::string& name, int hardware) {
  if (hardware == KN_SIM_HARDWARE_QEMU)
    for (const HwConfig& c : qemu_configs())
      if (c.name == name) return c;
  return find_config(name);
}

std::optional<HwConfig> find_config(const std::string& name) {
  const auto& all = standard_configs();
  auto it = std::find_if(all.begin(), all.end(), [&](const HwConfig& c) { return c.name == name; });
  if (it != all.end()) return *it;
  const auto& q = qemu_configs();
  auto qt = std::find_if(q.begin(), q.end(), [&](const HwConfig& c) { return c.name == name; });
  if (qt == q.end()) return std::nullopt;
  return *qt;
}

}  // namespace kniommu::conformance
