// Google Benchmark programs for the KasperskyOS API over the emulated VT-d unit (impl/kos).
// Run from a release build: build/release/bench/kos_bench.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include "kniommu/dma.h"
#pragma GCC diagnostic pop
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

KnSimConfig default_config() {
  KnSimConfig c;
  KnSimDefaultConfig(&c);
  return c;
}

// The whole life of a DMA session: attach, grant a 4 KiB buffer, revoke it, detach. Revocations
// include their invalidation + wait descriptor. Arg 0: the grant is alone in its domain, so its
// close frees the 3 intermediate table frames it needed (and the emulator audits each free by
// walking every reachable table: hw's use-after-free detector dominates this case). Arg 1: another
// grant keeps those tables alive (a driver's long-lived ring), so the cycle frees no table frame.
void BM_AttachBeginCloseDetach(benchmark::State& state) {
  Machine m(default_config());
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
BENCHMARK(BM_AttachBeginCloseDetach)->Arg(0)->Arg(1)->ArgName("resident_grant");

// KnIoDmaBegin of a 2 MiB buffer (one 2 MiB block: one superpage). The close is outside the timing.
void BM_Begin2MiB(benchmark::State& state) {
  KnSimConfig c = default_config();
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
BENCHMARK(BM_Begin2MiB)->Arg(0)->Arg(1)->ArgName("CM");

// As many domains as the unit has DIDs (65,535 with ND=6: DID 0 is reserved), each created and
// given its own device, on a bus with 65,536 devices. One iteration = the whole population.
// The machine is deliberately not torn down: hw's use-after-free audit walks every reachable table
// on each frame free, so freeing 65,535 attached domains is quadratic in the emulator (minutes),
// and teardown is not what this measures. The process exits right after.
void BM_MaxDomainsCreatedAndAttached(benchmark::State& state) {
  static std::vector<std::uint16_t> devices(65536);
  for (std::size_t i = 0; i < devices.size(); ++i) devices[i] = static_cast<std::uint16_t>(i);
  KnSimConfig c = default_config();
  c.devices = devices.data();
  c.device_count = devices.size();
  std::int64_t created = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto* m = new Machine(c);
    state.ResumeTiming();
    Handle d = 0;
    for (std::uint32_t i = 0; i < 65536; ++i) {
      if (KnIommuCreateDomain(&d) != rcOk) break;  // the 65,536th has no DID left
      if (KnIommuAttachDeviceToDomain(static_cast<std::uint16_t>(i), d) != rcOk) std::abort();
      ++created;
    }
    benchmark::DoNotOptimize(m);
  }
  state.counters["domains"] = static_cast<double>(created);
}
BENCHMARK(BM_MaxDomainsCreatedAndAttached)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
