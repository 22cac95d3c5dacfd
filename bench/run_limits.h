// In-run hardware limits for the benchmark programs. The machine is shared and loaded, so an
// absolute time means little on its own; every page-table and emulator figure is also printed as
// a ratio to the limit that bounds it, measured in the same process right before the benchmark:
//
//   store limit  one 64-bit single-copy-atomic store of a computed entry into a cache-resident
//                4 KiB page, in a tight loop (ns per entry). A page-table entry must be written
//                with one such store (a walker may read it concurrently), so no map or unmap can
//                beat this per entry.
//   walk limit   one 4-level walk that is nothing but 4 dependent, cache-resident 64-bit loads
//                (each load's value is the next table's host address), ns per walk. Any 4-level
//                translation has at least this dependency chain.
//
// Both are medians over kSamples timed batches (thread CPU time), so a preempted batch does not
// move them; each benchmark measures them right before and right after its own loop and uses
// the mean (mean_with), so a change of machine load during the benchmark shows in both. The counters are Google Benchmark counters whose value is "benchmark time / limit":
// ratio_counter() builds one.
#pragma once

#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "vtd/phys_mem.h"

namespace kniommu::bench {

inline double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Median over kSamples batches of `reps` calls of body(), in ns per call divided by `per_call`.
template <class Body>
double median_ns(Body&& body, int reps, double per_call) {
  constexpr int kSamples = 15;
  std::array<double, kSamples> t{};
  for (double& v : t) {
    const double start = thread_cpu_ns();
    for (int r = 0; r < reps; ++r) body();
    v = (thread_cpu_ns() - start) / (reps * per_call);
  }
  std::nth_element(t.begin(), t.begin() + kSamples / 2, t.end());
  return t[kSamples / 2];
}

struct alignas(4096) Page {
  std::uint64_t w[512];
};

// ns per entry stored; `entries` of one page per pass.
inline void store_pass(Page& page, unsigned entries) {
  std::uint64_t e = 0x1003;  // a 4 KiB leaf: R|W, address 0x1000
  for (unsigned i = 0; i < entries; ++i, e += 4096) vtd::store_entry(page.w, i, e);
  benchmark::ClobberMemory();
}
inline double store_limit_ns(unsigned entries = 512) {
  static Page page{};
  return median_ns([&] { store_pass(page, entries); }, 200, entries);
}

// Four tables; entry i of table l (l < 3) holds the host address of table l + 1, table 3 holds
// "leaves". The walk for index k reads tables 0..3 at indices derived from k, each load's address
// depending on the previous load's value.
struct WalkTables {
  std::array<Page, 4> t{};
  WalkTables() {
    for (unsigned l = 0; l < 3; ++l) {
      for (auto& e : t[l].w) e = reinterpret_cast<std::uintptr_t>(&t[l + 1]);
    }
    for (unsigned i = 0; i < 512; ++i) t[3].w[i] = 0x10000003 + (std::uint64_t{i} << 12);
  }
  std::uint64_t walk(std::uint64_t k) const {
    const std::uint64_t* table = t[0].w;
    for (unsigned l = 0; l < 3; ++l) {
      const std::uint64_t e = vtd::load_entry(table, static_cast<unsigned>((k >> (9 * (3 - l))) & 511));
      table = reinterpret_cast<const std::uint64_t*>(static_cast<std::uintptr_t>(e));
    }
    return vtd::load_entry(table, static_cast<unsigned>(k & 511));
  }
};
inline double walk_limit_ns() {
  static const WalkTables tables;
  std::uint64_t k = 0, sink = 0;
  const double ns = median_ns(
      [&] {
        sink += tables.walk(k + (sink & 1));  // the next walk waits for this one (dependent)
        ++k;
      },
      20000, 1);
  benchmark::DoNotOptimize(sink);
  return ns;
}

inline double mean_with(double before, double after) { return 0.5 * (before + after); }

// A counter showing (CPU time per iteration / `units_per_iteration`) / limit_ns: e.g. ns per entry
// over the store limit. Google Benchmark divides the value by the time and inverts it.
inline benchmark::Counter ratio_counter(double limit_ns, double units_per_iteration) {
  return benchmark::Counter(limit_ns * 1e-9 * units_per_iteration,
                            benchmark::Counter::kIsIterationInvariantRate |
                                benchmark::Counter::kInvert);
}

// Both limits as benchmarks of their own, so their absolute values are printed in every run.
inline void BM_StoreLimit(benchmark::State& state) {
  static Page page{};
  for (auto _ : state) store_pass(page, 512);
  state.counters["ns_per_entry"] = benchmark::Counter(
      512, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
inline void BM_WalkLimit(benchmark::State& state) {
  static const WalkTables tables;
  std::uint64_t k = 0, sink = 0;
  for (auto _ : state) {
    sink += tables.walk(k + (sink & 1));
    ++k;
  }
  benchmark::DoNotOptimize(sink);
}

}  // namespace kniommu::bench
