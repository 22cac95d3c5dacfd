// SecondLevelPageTable speed. Targets (issue 17, on hw::SimPhysMem): a batched 4 KiB map and unmap
// within 3x the store limit per entry; one 4 KiB map <= 60 ns; 1 GiB with 2 MiB pages <= 1.5 us;
// translate within 2x the walk limit; <= 2.01 MiB of tables per GiB mapped with 4 KiB pages. The
// limits are measured in the same run (run_limits.h); counters x_store / x_walk give the ratios.
// The page table reaches table frames through PhysMem's host pointers when the memory hands them
// out (SimPhysMem and FlatPhysMem do) and through the virtual read64/write64 otherwise
// (NoHostPointers below keeps that path measured).
//
// Unmapping between iterations is kept out of the timed region by batching: a batch of maps is
// timed, then the batch is unmapped with the timer paused. PauseTiming reads the process CPU clock
// through a system call (about a microsecond), so it runs once per batch and the per-call figure
// ("per_call" counter, CPU time) is not distorted by it. CPU time rather than wall time because
// the build machine is shared.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "hw/sim_phys_mem.h"
#include "run_limits.h"
#include "vtd/page_table.h"

namespace kniommu::vtd {
namespace {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;

// 4 levels; `max_leaf_shift` limits the leaf sizes the table may use (SLLPS): 30 all, 21 up to
// 2 MiB, 12 only 4 KiB.
PageTableConfig config4(unsigned max_leaf_shift = 30) {
  PageTableConfig c;
  c.levels = 4;
  c.input_width = 48;
  c.format = SlFormat{48, false, false, max_leaf_shift >= 21, max_leaf_shift >= 30};
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
  const std::uint64_t* frame_for_read(PhysAddr frame) const override { return &words_[frame / 8]; }
  std::uint64_t* frame_for_write(PhysAddr frame) override { return &words_[frame / 8]; }

 private:
  std::vector<std::uint64_t> words_;
  std::vector<PhysAddr> free_;
  std::uint64_t next_ = 1;  // frame 0 stays unused: PA 0 means "none"
};

// SimPhysMem without host pointers: every entry access is a virtual read64/write64 (the path a
// backend that cannot hand out host memory, such as a device model behind a socket, takes).
class NoHostPointers final : public PhysMem {
 public:
  explicit NoHostPointers(std::uint64_t bytes) : mem_(bytes) {}
  std::uint64_t read64(PhysAddr pa) const override { return mem_.read64(pa); }
  void write64(PhysAddr pa, std::uint64_t v) override { mem_.write64(pa, v); }
  void read(PhysAddr pa, void* out, std::size_t len) const override { mem_.read(pa, out, len); }
  void write(PhysAddr pa, const void* in, std::size_t len) override { mem_.write(pa, in, len); }
  Retcode alloc_frames(unsigned order, PhysAddr limit, PhysAddr* out) override {
    return mem_.alloc_frames(order, limit, out);
  }
  void free_frames(PhysAddr pa, unsigned order) override { mem_.free_frames(pa, order); }

 private:
  hw::SimPhysMem mem_;
};

template <class Mem>
struct Fixture {
  Mem mem{std::is_same_v<Mem, FlatPhysMem> ? 64 * MiB : 8 * GiB};
  SecondLevelPageTable pt;
  explicit Fixture(unsigned max_leaf_shift = 30) : pt(mem, config4(max_leaf_shift)) {
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
BENCHMARK_TEMPLATE(BM_Map4K, NoHostPointers);

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
// (an anchor page at the end of each 2 MiB keeps its leaf table). Batches of 16 calls (32 KiB of
// entries: the batch stays in L1 like the store limit's page); arg 0 times the maps, arg 1 the
// unmaps (each followed by complete()).
template <class Mem>
void BM_256x4K(benchmark::State& state) {
  constexpr int kBatch = 16;
  const bool time_unmap = state.range(0) == 1;
  const double store_before = bench::store_limit_ns();
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
  state.counters["per_entry"] = benchmark::Counter(
      kBatch * 256, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  const double store = bench::mean_with(store_before, bench::store_limit_ns());
  state.counters["x_store"] = bench::ratio_counter(store, kBatch * 256);
  state.counters["store_ns"] = store;
}
BENCHMARK_TEMPLATE(BM_256x4K, hw::SimPhysMem)->ArgName("unmap")->Arg(0)->Arg(1);
BENCHMARK_TEMPLATE(BM_256x4K, FlatPhysMem)->ArgName("unmap")->Arg(0)->Arg(1);
BENCHMARK_TEMPLATE(BM_256x4K, NoHostPointers)->ArgName("unmap")->Arg(0)->Arg(1);

// 1 GiB with 2 MiB pages (pa 2 MiB but not 1 GiB aligned: 512 PD leaves + one new PD per call),
// batches of 8 calls into 8 different GiB slots.
template <class Mem>
void BM_Map1GWith2M(benchmark::State& state) {
  constexpr int kBatch = 8;
  const double store_before = bench::store_limit_ns();
  Fixture<Mem> f;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) f.must_map((i + 1) * GiB, 16 * GiB + 2 * MiB, 1 * GiB);
    state.PauseTiming();
    for (int i = 0; i < kBatch; ++i) f.unmap_all((i + 1) * GiB, 1 * GiB);
    state.ResumeTiming();
  }
  report_per_call(state, kBatch);
  const double store = bench::mean_with(store_before, bench::store_limit_ns());
  state.counters["x_store"] = bench::ratio_counter(store, kBatch * 512);
}
BENCHMARK_TEMPLATE(BM_Map1GWith2M, hw::SimPhysMem);
BENCHMARK_TEMPLATE(BM_Map1GWith2M, FlatPhysMem);
BENCHMARK_TEMPLATE(BM_Map1GWith2M, NoHostPointers);

// Translate a 4 KiB-mapped address (4-level walk) with the tables hot in the host cache. Each
// translation's address depends on the previous result, so walks do not overlap (latency, like
// the walk limit it is compared with).
template <class Mem>
void BM_Translate(benchmark::State& state) {
  const double walk_before = bench::walk_limit_ns();
  Fixture<Mem> f;
  f.must_map(1 * GiB, 0x10001000, 2 * MiB);
  std::uint64_t k = 0;
  Translation t;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.pt.translate(1 * GiB + (k++ & 511) * 4 * KiB + 8 + (t.pa & 1), &t));
  }
  const double walk = bench::mean_with(walk_before, bench::walk_limit_ns());
  state.counters["x_walk"] = bench::ratio_counter(walk, 1);
  state.counters["walk_ns"] = walk;
}
BENCHMARK_TEMPLATE(BM_Translate, hw::SimPhysMem);
BENCHMARK_TEMPLATE(BM_Translate, FlatPhysMem);
BENCHMARK_TEMPLATE(BM_Translate, NoHostPointers);

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

// Growth: cost per page of mapping (arg op=0) or unmapping (op=1, each unmap followed by
// complete()) `pages` leaves of one size (arg leaf = 12, 21 or 30: 4 KiB, 2 MiB, 1 GiB) in one
// call, into a fresh 1 GiB-aligned region (the tables it needs are allocated by the call and freed
// by the unmap: both costs included), from one page up to 1 GiB (64 GiB for 1 GiB leaves).
// A batch of calls per iteration into different regions keeps PauseTiming rare. Counters: per_page
// (CPU time), x_store (per page over the store limit), tables (table frames per call).
void BM_Growth(benchmark::State& state) {
  const unsigned shift = static_cast<unsigned>(state.range(0));
  const std::uint64_t pages = static_cast<std::uint64_t>(state.range(1));
  const bool time_unmap = state.range(2) == 1;
  const std::uint64_t size = pages << shift;
  const std::uint64_t stride = (size + GiB - 1) & ~(GiB - 1);
  const int batch = static_cast<int>(std::clamp<std::uint64_t>(256 / pages, 1, 32));
  const double store_before = bench::store_limit_ns();
  Fixture<hw::SimPhysMem> f(shift);  // only leaves of this size (else aligned runs use larger)
  const std::uint64_t base = 512 * GiB;  // its own level-4 slot; the anchor keeps the PDPT
  f.must_map(base - 4 * KiB, 0x1000, 4 * KiB);
  const PhysAddr pa = 1ull << 40;  // aligned for every leaf size
  std::uint64_t tables = 0;
  for (auto _ : state) {
    if (time_unmap) state.PauseTiming();
    const std::uint64_t before = f.pt.table_frames();
    for (int i = 0; i < batch; ++i) f.must_map(base + i * stride, pa, size);
    tables = (f.pt.table_frames() - before) / static_cast<std::uint64_t>(batch);
    if (time_unmap) {
      state.ResumeTiming();
    } else {
      state.PauseTiming();
    }
    for (int i = 0; i < batch; ++i) f.unmap_all(base + i * stride, size);
    if (!time_unmap) state.ResumeTiming();
  }
  const double per_iter = static_cast<double>(batch) * static_cast<double>(pages);
  state.counters["per_page"] = benchmark::Counter(
      per_iter, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  const double store = bench::mean_with(store_before, bench::store_limit_ns());
  state.counters["x_store"] = bench::ratio_counter(store, per_iter);
  state.counters["tables"] = static_cast<double>(tables);
}
BENCHMARK(BM_Growth)
    ->ArgNames({"leaf", "pages", "unmap"})
    ->ArgsProduct({{12}, {1, 8, 64, 512, 4096, 32768, 262144}, {0, 1}})
    ->ArgsProduct({{21}, {1, 8, 64, 512}, {0, 1}})
    ->ArgsProduct({{30}, {1, 8, 64}, {0, 1}});

BENCHMARK(bench::BM_StoreLimit);
BENCHMARK(bench::BM_WalkLimit);

}  // namespace
}  // namespace kniommu::vtd

BENCHMARK_MAIN();
