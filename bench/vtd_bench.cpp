// SecondLevelPageTable speed (targets from issue #4): map one 4 KiB page <= 100 ns; 256 contiguous
// 4 KiB pages in one call <= 2 us; 1 GiB with 2 MiB pages <= 5 us; translate with tables in cache
// <= 30 ns; <= 2.01 MiB of tables per GiB mapped with 4 KiB pages. Everything goes through the
// virtual PhysMem interface onto hw::SimPhysMem, as the real stack does.
//
// Unmapping between iterations is kept out of the timed region by batching: a batch of maps is
// timed, then the batch is unmapped with the timer paused. PauseTiming reads the process CPU clock
// through a system call (about a microsecond), so it runs once per batch and the per-call figure
// ("per_call" counter, CPU time) is not distorted by it. CPU time rather than wall time because
// the build machine is shared.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

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

// A minimal PhysMem over one host array (direct indexing, free-list allocator, order 0 only). It
// separates the page-table code's own cost from the simulator's per-access frame lookup.
class FlatPhysMem final : public PhysMem {
 public:
  explicit FlatPhysMem(std::uint64_t bytes) : words_(bytes / 8, 0) {
    free_.reserve(bytes / kPageSize);
  }
  std::uint64_t read64(PhysAddr pa) const override { return words_[pa / 8]; }
  void write64(PhysAddr pa, std::uint64_t v) override { words_[pa / 8] = v; }
  void read(PhysAddr pa, void* out, std::size_t len) const override {
    std::memcpy(out, &words_[pa / 8], len);
  }
  void write(PhysAddr pa, const void* in, std::size_t len) override {
    std::memcpy(&words_[pa / 8], in, len);
  }
  Retcode alloc_frames(unsigned order, PhysAddr, PhysAddr* out) override {
    if (order != 0) return rcUnimplemented;
    if (!free_.empty()) {
      *out = free_.back();
      free_.pop_back();
    } else if ((next_ + 1) * kPageSize <= words_.size() * 8) {
      *out = next_++ * kPageSize;
    } else {
      return rcOutOfMemory;
    }
    std::memset(&words_[*out / 8], 0, kPageSize);
    return rcOk;
  }
  void free_frames(PhysAddr pa, unsigned) override { free_.push_back(pa); }

 private:
  std::vector<std::uint64_t> words_;
  std::vector<PhysAddr> free_;
  std::uint64_t next_ = 1;  // frame 0 stays unused: PA 0 means "none"
};

template <class Mem>
struct Fixture {
  Mem mem{std::is_same_v<Mem, FlatPhysMem> ? 64 * MiB : 8 * GiB};
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
template <class Mem>
void BM_Map4K(benchmark::State& state) {
  Fixture<Mem> f;
  const std::uint64_t base = 1 * GiB;
  f.must_map(base, 0x1000, 4 * KiB);
  std::uint64_t k = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        f.pt.map(base + k * 4 * KiB, 0x100000 + k * 4 * KiB, 4 * KiB, kPermReadWrite));
    if (++k == 512) {
      state.PauseTiming();
      f.unmap_all(base + 4 * KiB, 511 * 4 * KiB);
      k = 1;
      state.ResumeTiming();
    }
  }
}
BENCHMARK_TEMPLATE(BM_Map4K, hw::SimPhysMem);
BENCHMARK_TEMPLATE(BM_Map4K, FlatPhysMem);

// The same including a fresh leaf table (and its parent entry) per call: the worst single map.
template <class Mem>
void BM_Map4KNewTable(benchmark::State& state) {
  Fixture<Mem> f;
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
BENCHMARK_TEMPLATE(BM_Map4KNewTable, hw::SimPhysMem);
BENCHMARK_TEMPLATE(BM_Map4KNewTable, FlatPhysMem);

// Per-call time of `batch` calls per iteration: counter "per_call" (seconds per call, CPU time).
void report_per_call(benchmark::State& state, int batch) {
  state.counters["per_call"] = benchmark::Counter(
      batch, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// 256 contiguous 4 KiB pages (1 MiB, pa not 2 MiB aligned) in one call, into existing tables
// (an anchor page at the end of each 2 MiB keeps its leaf table). Batches of 32 calls; arg 0
// times the maps, arg 1 the unmaps (each followed by complete()).
template <class Mem>
void BM_256x4K(benchmark::State& state) {
  constexpr int kBatch = 32;
  const bool time_unmap = state.range(0) == 1;
  Fixture<Mem> f;
  const std::uint64_t base = 1 * GiB;
  for (int i = 0; i < kBatch; ++i) f.must_map(base + (i + 1) * 2 * MiB - 4 * KiB, 0x1000, 4 * KiB);
  for (auto _ : state) {
    if (time_unmap) state.PauseTiming();
    for (int i = 0; i < kBatch; ++i) f.must_map(base + i * 2 * MiB, 0x10001000, 1 * MiB);
    if (time_unmap) {
      state.ResumeTiming();
    } else {
      state.PauseTiming();
    }
    for (int i = 0; i < kBatch; ++i) f.unmap_all(base + i * 2 * MiB, 1 * MiB);
    if (!time_unmap) state.ResumeTiming();
  }
  report_per_call(state, kBatch);
}
BENCHMARK_TEMPLATE(BM_256x4K, hw::SimPhysMem)->ArgName("unmap")->Arg(0)->Arg(1);
BENCHMARK_TEMPLATE(BM_256x4K, FlatPhysMem)->ArgName("unmap")->Arg(0)->Arg(1);

// 1 GiB with 2 MiB pages (pa 2 MiB but not 1 GiB aligned: 512 PD leaves + one new PD per call),
// batches of 8 calls into 8 different GiB slots.
template <class Mem>
void BM_Map1GWith2M(benchmark::State& state) {
  constexpr int kBatch = 8;
  Fixture<Mem> f;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) f.must_map((i + 1) * GiB, 16 * GiB + 2 * MiB, 1 * GiB);
    state.PauseTiming();
    for (int i = 0; i < kBatch; ++i) f.unmap_all((i + 1) * GiB, 1 * GiB);
    state.ResumeTiming();
  }
  report_per_call(state, kBatch);
}
BENCHMARK_TEMPLATE(BM_Map1GWith2M, hw::SimPhysMem);
BENCHMARK_TEMPLATE(BM_Map1GWith2M, FlatPhysMem);

// Translate a 4 KiB-mapped address (4-level walk) with the tables hot in the host cache.
template <class Mem>
void BM_Translate(benchmark::State& state) {
  Fixture<Mem> f;
  f.must_map(1 * GiB, 0x10001000, 2 * MiB);
  std::uint64_t k = 0;
  Translation t;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.pt.translate(1 * GiB + (k++ & 511) * 4 * KiB + 8, &t));
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK_TEMPLATE(BM_Translate, hw::SimPhysMem);
BENCHMARK_TEMPLATE(BM_Translate, FlatPhysMem);

// Table memory per GiB mapped with 4 KiB pages: frames added by mapping a second GiB (the
// levels above the PD are shared), reported as a counter in MiB.
template <class Mem>
void BM_TableMemoryPerGiB4K(benchmark::State& state) {
  for (auto _ : state) {
    Fixture<Mem> f;
    f.must_map(0, 0x1000, 1 * GiB);
    const auto before = f.pt.table_frames();
    f.must_map(1 * GiB, 0x1000, 1 * GiB);
    state.counters["MiB_per_GiB"] =
        static_cast<double>((f.pt.table_frames() - before) * kPageSize) / static_cast<double>(MiB);
    state.counters["frames_first_GiB"] = static_cast<double>(before);
  }
}
BENCHMARK_TEMPLATE(BM_TableMemoryPerGiB4K, hw::SimPhysMem)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_TableMemoryPerGiB4K, FlatPhysMem)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kniommu::vtd

BENCHMARK_MAIN();
