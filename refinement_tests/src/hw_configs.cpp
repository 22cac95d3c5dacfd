// The hardware matrix the suite runs on: the standard configurations are listed once, in
// hw_configs.def (which says what each exercises); the QEMU variants are derived from them.
#include <algorithm>

#include "kniommu/conformance.h"

namespace kniommu::conformance {
namespace {

// Two functions on bus 0, one on bus 1 and one on bus 3: several context tables get used.
const std::vector<uint16_t> kDevices = {0x0008, 0x0010, 0x0100, 0x0301};

constexpr uint32_t kSagaw3 = 0x2;
constexpr uint64_t kMiB = 1ull << 20;

HwConfig make(std::string name, std::string description, KnSimConfig sim) {
  return HwConfig{std::move(name), std::move(description), sim, kDevices};
}

// The columns of hw_configs.def after name and description, in its order.
KnSimConfig row(int enabled, uint32_t sagaw, uint32_t mgaw, uint32_t sllps, int caching_mode,
                uint32_t nd, uint32_t mamv, uint32_t nfr, int coherent, uint32_t iotlb_entries,
                uint32_t context_cache_entries) {
  // Room for a 1 GiB block next to a filler of almost 1 GiB (sparse: unwritten frames cost
  // nothing).
  const KnSimConfig c{.iommu_enabled = enabled,
                      .sagaw = sagaw,
                      .mgaw = mgaw,
                      .sllps = sllps,
                      .caching_mode = caching_mode,
                      .nd = nd,
                      .mamv = mamv,
                      .nfr = nfr,
                      .coherent = coherent,
                      .iotlb_entries = iotlb_entries,
                      .context_cache_entries = context_cache_entries,
                      .phys_mem_bytes = 4096 * kMiB,
                      .devices = nullptr,  // make_sim() fills in the bus
                      .device_count = 0,
                      .skip_use_after_free_check = 0,
                      .hardware = KN_SIM_HARDWARE_EMULATOR};
  return c;
}

std::vector<HwConfig> build() {
  std::vector<HwConfig> out;
#define KNIOMMU_HW_CONFIG(name, description, ...) \
  out.push_back(make(#name, description, row(__VA_ARGS__)));
#include "hw_configs.def"
#undef KNIOMMU_HW_CONFIG
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
  const KnSimConfig l4 = out.front().sim;  // l4_sp at 512 MiB
  KnSimConfig l3 = l4;
  l3.sagaw = kSagaw3;
  l3.mgaw = 39;
  out.push_back(make("l3_sp", "3-level 39-bit, 2M+1G superpages, CM=0 (QEMU aw-bits=39)", l3));
  KnSimConfig cm = l4;
  cm.caching_mode = 1;
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
