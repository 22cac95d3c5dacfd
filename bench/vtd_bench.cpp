// SecondLevelPageTable speed (targets from issue #4): map one 4 KiB page <= 100 ns; 256 contiguous
// 4 KiB pages in one call <= 2 us; 1 GiB with 2 MiB pages <= 5 us; translate with tables in cache
// <= 30 ns; <= 2.01 MiB of tables per GiB mapped with 4 KiB pages. Everything goes through the
// virtual PhysMem interface onto hw::SimPhysMem, as the real stack does.
//
// Unmapping between iterations is kept out of the timed region by batching: a batch of maps is
// timed, then the batch is unmapped with the timer paused (PauseTiming once per batch, not per
// map, so its own overhead does not distort the per-map figure).
#include <benchmark/benchmark.h>

#include "hw/sim_phys_mem.h"
#include "vtd/page_table.h"

namespace kniommu::vtd {
namespace {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;

PageTableConfig config4() {
  PageTableConfig c;
  c.levels = 4;
  c.input_width = 48;
  c.format = SlFormat{48, false, false, true, true};
  return c;
}

struct Fixture {
  hw::SimPhysMem mem{8 * GiB};
  SecondLevelPageTable pt{mem, config4()};
  Fixture() {
    if (pt.init() != rcOk) std::abort();
  }
  void must_map(std::uint64_t iova, PhysAddr pa, std::uint64_t size) {
    if (pt.map(iova, pa, size, kPermReadWrite) != rcOk) std::abort();
  }
  void unmap_all(std::uint64_t iova, std::uint64_t size) {
    PendingInvalidation p;
    if (pt.unmap(iova, size, p) != rcOk) std::abort();
    pt.complete(p);
  }
};

// One 4 KiB page into an existing leaf table (an anchor page keeps the tables alive).
void BM_Map4K(benchmark::State& state) {
  Fixture f;
  const std::uint64_t base = 1 * GiB;
  f.must_map(base, 0x1000, 4 * KiB);
  std::uint64_t k = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.pt.map(base + k * 4 * KiB, 0x100000 + k * 4 * KiB, 4 * KiB, kPermReadWrite));
    if (++k == 512) {
      state.PauseTiming();
      f.unmap_all(base + 4 * KiB, 511 * 4 * KiB);
      k = 1;
      state.ResumeTiming();
    }
  }
}
BENCHMARK(BM_Map4K);

// The same including a fresh leaf table (and its parent entry) per call: the worst single map.
void BM_Map4KNewTable(benchmark::State& state) {
  Fixture f;
  f.must_map(0, 0x1000, 4 * KiB);  // keeps PDPT/PD alive
  std::uint64_t k = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.pt.map(k * 2 * MiB, 0x1000, 4 * KiB, kPermReadWrite));
    if (++k == 512) {
      state.PauseTiming();
      f.unmap_all(2 * MiB, 511 * 2 * MiB);
      k = 1;
      state.ResumeTiming();
    }
  }
}
BENCHMARK(BM_Map4KNewTable);

// 256 contiguous 4 KiB pages (1 MiB, pa not 2 MiB aligned) in one call, into existing tables
// (an anchor page keeps the leaf table). Arg 0 times the map, arg 1 the unmap + complete.
void BM_256x4K(benchmark::State& state) {
  const bool time_unmap = state.range(0) == 1;
  Fixture f;
  const std::uint64_t base = 1 * GiB;
  f.must_map(base + 2 * MiB - 4 * KiB, 0x1000, 4 * KiB);
  for (auto _ : state) {
    if (time_unmap) state.PauseTiming();
    f.must_map(base, 0x10001000, 1 * MiB);
    if (time_unmap) {
      state.ResumeTiming();
    } else {
      state.PauseTiming();
    }
    f.unmap_all(base, 1 * MiB);
    if (!time_unmap) state.ResumeTiming();
  }
}
BENCHMARK(BM_256x4K)->ArgName("unmap")->Arg(0)->Arg(1);

// 1 GiB with 2 MiB pages (pa 2 MiB but not 1 GiB aligned, so 512 PD leaves + one new PD).
void BM_Map1GWith2M(benchmark::State& state) {
  Fixture f;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.pt.map(1 * GiB, 2 * GiB + 2 * MiB, 1 * GiB, kPermReadWrite));
    state.PauseTiming();
    f.unmap_all(1 * GiB, 1 * GiB);
    state.ResumeTiming();
  }
}
BENCHMARK(BM_Map1GWith2M);

// Translate a 4 KiB-mapped address (4-level walk) with the tables hot in the host cache.
void BM_Translate(benchmark::State& state) {
  Fixture f;
  f.must_map(1 * GiB, 0x10001000, 2 * MiB);
  std::uint64_t k = 0;
  Translation t;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.pt.translate(1 * GiB + (k++ & 511) * 4 * KiB + 8, &t));
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_Translate);

// Table memory per GiB mapped with 4 KiB pages: frames added by mapping a second GiB (the
// levels above the PD are shared), reported as a counter in MiB.
void BM_TableMemoryPerGiB4K(benchmark::State& state) {
  for (auto _ : state) {
    Fixture f;
    f.must_map(0, 0x1000, 1 * GiB);
    const auto before = f.pt.table_frames();
    f.must_map(1 * GiB, 0x1000, 1 * GiB);
    state.counters["MiB_per_GiB"] =
        static_cast<double>((f.pt.table_frames() - before) * kPageSize) / static_cast<double>(MiB);
    state.counters["frames_first_GiB"] = static_cast<double>(before);
  }
}
BENCHMARK(BM_TableMemoryPerGiB4K)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kniommu::vtd

BENCHMARK_MAIN();
