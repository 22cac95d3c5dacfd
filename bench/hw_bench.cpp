// Translation speed of the emulated remapping unit. Tables are written by hand into simulated
// memory (as the unit tests do) so only the unit is measured. Targets (issue 17): IOTLB hit
// <= 10 ns per page; IOTLB miss plus a 4-level walk within 2x the walk limit plus the IOTLB
// insert, both limits measured in the same run (counter x_bound = time / (2 walk + insert)).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "hw/layout_masks.h"
#include "hw/pcie_bus.h"
#include "hw/remapping_unit.h"
#include "hw/sim_phys_mem.h"
#include "run_limits.h"
#include "vtd/entries.h"

namespace kniommu::hw {
namespace {

constexpr std::uint16_t kDev = 0x0108;
constexpr std::uint16_t kDid = 3;

std::uint64_t rw(std::uint64_t w) {
  w = with_field(vtd::kSlPte4K, KNIOMMU_F("R"), w, 1);
  return with_field(vtd::kSlPte4K, KNIOMMU_F("W"), w, 1);
}

// A 4-level domain mapping `pages` consecutive 4 KiB pages from IOVA 0 for one device.
struct Rig {
  Rig(UnitConfig config, unsigned pages) : mem(1ull << 32), unit(config, mem) {
    PhysAddr root = 0, ctx = 0, top = 0;
    mem.alloc_frame(&root);
    mem.alloc_frame(&ctx);
    mem.alloc_frame(&top);
    vtd::RootEntry re;
    re.set_present(1).set_context_table(ctx);
    vtd::write_entry128(mem, root + 16 * (kDev >> 8), re.w);
    vtd::ContextEntry ce;
    ce.set_present(1).set_aw(2).set_did(kDid).set_slptptr(top);
    vtd::write_entry128(mem, ctx + 16 * (kDev & 0xFF), ce.w);
    for (unsigned i = 0; i < pages; ++i)
      map(top, std::uint64_t{i} << 12, 0x1000'0000 + (std::uint64_t{i} << 12));
    unit.write64(vtd::kRegRtaddr, root);
    const auto bit = [](auto name) {
      return static_cast<std::uint32_t>(mask_of(vtd::kGcmdReg, name));
    };
    unit.write32(vtd::kRegGcmd, bit(KNIOMMU_F("SRTP")));
    unit.write32(vtd::kRegGcmd, bit(KNIOMMU_F("TE")));
  }

  void map(PhysAddr top, std::uint64_t iova, PhysAddr pa) {
    PhysAddr table = top;
    for (unsigned level = 4; level > 1; --level) {
      const PhysAddr e = table + 8 * ((iova >> (12 + 9 * (level - 1))) & 511);
      std::uint64_t v = mem.read64(e);
      if (v == 0) {
        PhysAddr t = 0;
        mem.alloc_frame(&t);
        v = rw(with_field(vtd::kSlTableEntry, KNIOMMU_F("ADDR"), 0, t >> 12));
        mem.write64(e, v);
      }
      table = v & mask_of(vtd::kSlTableEntry, KNIOMMU_F("ADDR"));
    }
    mem.write64(table + 8 * ((iova >> 12) & 511),
                rw(with_field(vtd::kSlPte4K, KNIOMMU_F("ADDR"), 0, pa >> 12)));
  }

  SimPhysMem mem;
  RemappingUnit unit;
};

// Translations of `pages` pages round-robin. With pages <= the front's 256 slots every lookup is
// a front hit; up to the IOTLB capacity it is a main-IOTLB hit.
void BM_IotlbHit(benchmark::State& state) {
  const auto pages = static_cast<unsigned>(state.range(0));
  Rig rig(UnitConfig{}, pages);
  PhysAddr pa = 0;
  for (unsigned i = 0; i < pages; ++i) rig.unit.translate(kDev, std::uint64_t{i} << 12, false, &pa);
  unsigned i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(rig.unit.translate(kDev, std::uint64_t{i} << 12 | 0x10, false, &pa));
    benchmark::DoNotOptimize(pa);
    if (++i == pages) i = 0;
  }
  const UnitStats s = rig.unit.stats();
  state.counters["miss_ratio"] =
      static_cast<double>(s.iotlb_misses) / static_cast<double>(s.iotlb_hits + s.iotlb_misses);
}
BENCHMARK(BM_IotlbHit)->Arg(1)->Arg(64)->Arg(1000);

// IOTLB hits inside one request: a `pages` x 4 KiB DMA translated by translate_range, as the bus
// does for every device access (one lock acquisition per request, one lookup per page). Counter
// per_page: CPU time per translated page.
void BM_IotlbHitInRequest(benchmark::State& state) {
  const auto pages = static_cast<unsigned>(state.range(0));
  Rig rig(UnitConfig{}, pages);
  std::vector<DmaChunk> chunks;
  chunks.reserve(pages);
  rig.unit.translate_range(kDev, 0, std::uint64_t{pages} << 12, false, &chunks);  // fill
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        rig.unit.translate_range(kDev, 0, std::uint64_t{pages} << 12, false, &chunks));
    benchmark::DoNotOptimize(chunks.data());
  }
  state.counters["per_page"] = benchmark::Counter(
      pages, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_IotlbHitInRequest)->Arg(16)->Arg(64);

// In-run cost of one IOTLB insert that evicts (a full 16-entry IOTLB, frame references tracked as
// with the use-after-free audit on): the "plus the IOTLB insert" of the miss target.
double iotlb_insert_ns() {
  FrameRefs refs(1ull << 32);
  Iotlb tlb(16);
  tlb.track(&refs);
  std::uint64_t k = 0;
  return bench::median_ns(
      [&] {
        tlb.insert(kDid, k << 12, 12, IotlbEntry{0x1000'0000 + (k << 12), 3});
        ++k;
      },
      20000, 1);
}

// Every translation misses the IOTLB (16 entries, 4096 pages cycled) and walks 4 levels of tables
// that sit in the host's caches. `psc` = paging-structure cache entries (1: effectively off, so
// the walk reads all four levels; 256: the walk starts at the cached PDE).
void BM_IotlbMissWalk(benchmark::State& state) {
  UnitConfig c;
  c.iotlb_entries = 16;
  c.paging_structure_cache_entries = static_cast<std::uint32_t>(state.range(0));
  constexpr unsigned kPages = 4096;
  const double walk_before = bench::walk_limit_ns();
  const double insert_before = iotlb_insert_ns();
  Rig rig(c, kPages);
  PhysAddr pa = 0;
  unsigned i = 0;
  for (auto _ : state) {
    // Stride 17 pages, so consecutive requests are on different pages and mostly different PTs.
    // The next address depends on this result (pa & 1 is 0): walks do not overlap, as in the
    // walk limit.
    benchmark::DoNotOptimize(rig.unit.translate(kDev, std::uint64_t{i} << 12 | (pa & 1), true, &pa));
    i = (i + 17) % kPages;
  }
  const double walk = bench::mean_with(walk_before, bench::walk_limit_ns());
  const double insert = bench::mean_with(insert_before, iotlb_insert_ns());
  state.counters["walk_ns"] = walk;
  state.counters["insert_ns"] = insert;
  state.counters["x_bound"] = bench::ratio_counter(2 * walk + insert, 1);
  const UnitStats s = rig.unit.stats();
  state.counters["miss_ratio"] =
      static_cast<double>(s.iotlb_misses) / static_cast<double>(s.iotlb_hits + s.iotlb_misses);
}
BENCHMARK(BM_IotlbMissWalk)->Arg(0)->Arg(256);

// A 64 KiB device write through the bus: 16 translations and the copy.
void BM_Dma64K(benchmark::State& state) {
  Rig rig(UnitConfig{}, 16);
  PcieBus bus(rig.mem, &rig.unit);
  bus.add_device(kDev);
  std::vector<unsigned char> buf(64 * 1024, 0x5A);
  std::uint8_t reason = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(bus.dma(kDev, 0, buf.data(), buf.size(), true, &reason));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * 64 * 1024);
}
BENCHMARK(BM_Dma64K);

// Cost the use-after-free detector adds to every free: the unit brings its reference counts up to
// date (frames written since the last free; none here) and looks the frame up (here with a domain
// of `pages` mapped 4 KiB pages, which the old full scan walked on every free).
void BM_FreeWithReachabilityScan(benchmark::State& state) {
  Rig rig(UnitConfig{}, static_cast<unsigned>(state.range(0)));
  for (auto _ : state) {
    PhysAddr pa = 0;
    rig.mem.alloc_frame(&pa);
    rig.mem.free_frame(pa);
  }
  if (rig.unit.use_after_free_count() != 0) state.SkipWithError("unexpected violation");
}
BENCHMARK(BM_FreeWithReachabilityScan)->Arg(16)->Arg(4096);

// A whole-frame read of simulated memory (the conformance suite reads every table it checks this
// way, through SimHardware::phys_read), over `frames` frames in turn: 1 is cache-resident, 4096
// (16 MiB) is not. Every word is read with a relaxed atomic load (a device may store to the frame
// concurrently). Counter x_memcpy = time / (a plain memcpy of the same number of equally spread
// host frames, measured in the same run), the copy a reader with no concurrent writer could do.
void BM_PhysReadFrame(benchmark::State& state) {
  const auto frames = static_cast<std::uint64_t>(state.range(0));
  SimPhysMem mem((frames + 1) * vtd::kPageSize * 2);
  std::vector<PhysAddr> pas;
  for (std::uint64_t i = 0; i < frames; ++i) {
    PhysAddr pa = 0;
    if (mem.alloc_frame(&pa) != rcOk) std::abort();
    for (unsigned w = 0; w < 512; ++w) mem.write64(pa + 8 * w, pa + w);
    pas.push_back(pa);
  }
  std::vector<bench::Page> host(frames);
  for (std::uint64_t i = 0; i < frames; ++i) host[i].w[i % 512] = i;
  alignas(64) static std::uint64_t out[512];
  std::uint64_t k = 0;
  const auto memcpy_limit = [&] {
    std::uint64_t j = 0;
    return bench::median_ns(
        [&] {
          std::memcpy(out, host[j++ % frames].w, sizeof out);
          benchmark::ClobberMemory();
        },
        2000, 1);
  };
  const double before = memcpy_limit();
  for (auto _ : state) {
    mem.read(pas[k++ % frames], out, sizeof out);
    benchmark::ClobberMemory();
  }
  const double limit = bench::mean_with(before, memcpy_limit());
  state.counters["x_memcpy"] = bench::ratio_counter(limit, 1);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * 4096);
}
BENCHMARK(BM_PhysReadFrame)->Arg(1)->Arg(4096);

BENCHMARK(bench::BM_StoreLimit);
BENCHMARK(bench::BM_WalkLimit);

}  // namespace
}  // namespace kniommu::hw

BENCHMARK_MAIN();
