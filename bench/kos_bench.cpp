// Google Benchmark programs for the KasperskyOS API over the emulated VT-d unit (impl/kos).
// Run from a release build: build/release/bench/kos_bench.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "kniommu/dma.h"
#include "kniommu/iommu_api.h"
#include "kniommu/sim.h"

namespace {

constexpr std::uint16_t kDev = 0x0008;

struct Machine {
  explicit Machine(const KnSimConfig& c) {
    if (KnSimSystemCreate(&c, &sys) != rcOk || KnSimProcessCreate(sys, &pid) != rcOk ||
        KnSimBindThread(sys, pid) != rcOk)
      std::abort();
  }
  ~Machine() {
    KnSimBindThread(nullptr, 0);
    KnSimSystemDestroy(sys);
  }
  KnSimSystem* sys = nullptr;
  KnPid pid = 0;
};

// `audit`: keep the simulator's use-after-free audit on (the default everywhere else). It walks
// every reachable table on each frame free; real hardware has no such cost, so each benchmark
// reports both: audit=1 is the emulated system as tested, audit=0 the implementation's own cost.
KnSimConfig default_config(bool audit = true) {
  KnSimConfig c;
  KnSimDefaultConfig(&c);
  c.skip_use_after_free_check = audit ? 0 : 1;
  return c;
}

// The whole life of a DMA session: attach, grant a 4 KiB buffer, revoke it, detach. Revocations
// include their invalidation + wait descriptor. resident_grant=0: the grant is alone in its
// domain, so its close frees the 3 intermediate table frames it needed (with audit=1 the emulator
// audits each free, which dominates). resident_grant=1: another grant keeps those tables alive (a
// driver's long-lived ring), so the cycle frees no table frame.
void BM_AttachBeginCloseDetach(benchmark::State& state) {
  Machine m(default_config(state.range(1) != 0));
  Handle b = 0, ring = 0, ring_grant = 0;
  if (KnIoDmaCreate(0, 4096, DMA_DIR_BIDIR, &b) != rcOk) std::abort();
  if (state.range(0) != 0) {
    if (KnIoDmaCreate(0, 4096, DMA_DIR_BIDIR, &ring) != rcOk || KnIommuAttachDevice(kDev) != rcOk ||
        KnIoDmaBegin(ring, &ring_grant) != rcOk || KnIommuDetachDevice(kDev) != rcOk)
      std::abort();
  }
  for (auto _ : state) {
    Handle g = 0;
    if (KnIommuAttachDevice(kDev) != rcOk || KnIoDmaBegin(b, &g) != rcOk ||
        KnHandleClose(g) != rcOk || KnIommuDetachDevice(kDev) != rcOk)
      std::abort();
  }
}
BENCHMARK(BM_AttachBeginCloseDetach)
    ->ArgsProduct({{0, 1}, {1, 0}})
    ->ArgNames({"resident_grant", "audit"});

// KnIoDmaBegin of a 2 MiB buffer (one 2 MiB block: one superpage). The close is outside the timing.
void BM_Begin2MiB(benchmark::State& state) {
  KnSimConfig c = default_config(state.range(1) != 0);
  c.caching_mode = static_cast<int>(state.range(0));
  Machine m(c);
  Handle b = 0;
  if (KnIommuAttachDevice(kDev) != rcOk || KnIoDmaCreate(9, 2u << 20, DMA_DIR_BIDIR, &b) != rcOk)
    std::abort();
  for (auto _ : state) {
    Handle g = 0;
    if (KnIoDmaBegin(b, &g) != rcOk) std::abort();
    state.PauseTiming();
    if (KnHandleClose(g) != rcOk) std::abort();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_Begin2MiB)->ArgsProduct({{0, 1}, {1, 0}})->ArgNames({"CM", "audit"});

// As many domains as the unit has DIDs (65,535 with ND=6: DID 0 is reserved), each created and
// given its own device, on a bus with 65,536 devices. One iteration = the whole population.
// The audit is off: with it, tearing down 65,535 attached domains is quadratic in the emulator
// (every free walks every reachable table) and takes minutes; teardown is untimed either way.
void BM_MaxDomainsCreatedAndAttached(benchmark::State& state) {
  static std::vector<std::uint16_t> devices(65536);
  for (std::size_t i = 0; i < devices.size(); ++i) devices[i] = static_cast<std::uint16_t>(i);
  KnSimConfig c = default_config(false);
  c.devices = devices.data();
  c.device_count = devices.size();
  std::int64_t created = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto m = std::make_unique<Machine>(c);
    state.ResumeTiming();
    Handle d = 0;
    for (std::uint32_t i = 0; i < 65536; ++i) {
      if (KnIommuCreateDomain(&d) != rcOk) break;  // the 65,536th has no DID left
      if (KnIommuAttachDeviceToDomain(static_cast<std::uint16_t>(i), d) != rcOk) std::abort();
      ++created;
    }
    state.PauseTiming();
    m.reset();
    state.ResumeTiming();
  }
  state.counters["domains"] = static_cast<double>(created);
}
BENCHMARK(BM_MaxDomainsCreatedAndAttached)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
