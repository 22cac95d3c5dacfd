// The driver's cache-flush hook (PhysMem::flush_cpu_cache) on a unit whose walks do not snoop the
// CPU caches (ECAP.C = 0, VT-d spec §10.4.3): after every page-table call and every context
// change, memory holds what the CPU wrote to every table the unit can walk; on a coherent unit the
// hook is never called. A backend that drops the flushes (a seeded bug) shows that the checks bite.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "hw/remapping_unit.h"
#include "hw/sim_phys_mem.h"
#include "vtd/driver/remapping_driver.h"
#include "vtd/page_table.h"
#include "vtd/tests/pt_fixture.h"

namespace kniommu::vtd::testing_support {
namespace {

// SimPhysMem that loses every flush: the driver's writes stay in the modelled CPU cache.
class DropsFlushes final : public PhysMem {
 public:
  explicit DropsFlushes(hw::SimPhysMem& mem) : mem_(mem) {}
  std::uint64_t read64(PhysAddr pa) const override { return mem_.read64(pa); }
  void write64(PhysAddr pa, std::uint64_t v) override { mem_.write64(pa, v); }
  void read(PhysAddr pa, void* out, std::size_t len) const override { mem_.read(pa, out, len); }
  void write(PhysAddr pa, const void* in, std::size_t len) override { mem_.write(pa, in, len); }
  Retcode alloc_frames(unsigned order, PhysAddr limit, PhysAddr* out) override {
    return mem_.alloc_frames(order, limit, out);
  }
  void free_frames(PhysAddr pa, unsigned order) override { mem_.free_frames(pa, order); }
  void flush_cpu_cache(PhysAddr, std::size_t) override {}

 private:
  hw::SimPhysMem& mem_;
};

// Every table frame of `pt` (root included) holds in memory what the CPU sees.
bool tables_in_memory(const SecondLevelPageTable& pt, const hw::SimPhysMem& mem) {
  std::vector<PhysAddr> tables{pt.root()};
  pt.for_each_present_entry([&](unsigned level, PhysAddr, std::uint64_t e) {
    if (!VtdSsFormat::is_leaf(level, e)) tables.push_back(VtdSsFormat::table_addr(e));
  });
  for (const PhysAddr t : tables) {
    for (PhysAddr pa = t; pa < t + kPageSize; pa += 8) {
      if (mem.read64(pa) != mem.read64_memory(pa)) return false;
    }
  }
  return true;
}

// Random maps and unmaps (4 KiB runs, 2 MiB and 1 GiB aligned blocks, ranges across table
// pages), each followed by the check. Returns the first call after which it failed, or -1.
int first_stale_call(PhysMem& table_mem, hw::SimPhysMem& mem, bool coherent_walks) {
  PageTableConfig c = config_for(4);
  c.coherent_walks = coherent_walks;
  SecondLevelPageTable pt(table_mem, c);
  if (pt.init() != rcOk || !tables_in_memory(pt, mem)) return 0;
  std::mt19937_64 rng(16);
  const std::uint64_t sizes[] = {4 * KiB, 12 * KiB, 2 * MiB, 2 * MiB + 8 * KiB, 1 * GiB};
  for (int call = 1; call <= 300; ++call) {
    const std::uint64_t size = sizes[rng() % std::size(sizes)];
    const std::uint64_t iova = (rng() % 64) * (size >= 2 * MiB ? 2 * MiB : 508 * KiB);
    if (rng() % 3 != 0) {
      static_cast<void>(pt.map(iova, iova, size, kPermReadWrite));
    } else {
      PendingInvalidation p;
      EXPECT_EQ(pt.unmap(iova, size, p), rcOk);
      pt.complete(p);  // as after the caller's invalidation
    }
    if (!tables_in_memory(pt, mem)) return call;
  }
  return -1;
}

TEST(CacheFlush, PageTableWritesAreInMemoryAfterEveryCall) {
  hw::SimPhysMem mem(4 * GiB);
  mem.enable_cpu_cache_model();
  EXPECT_EQ(first_stale_call(mem, mem, false), -1);
  EXPECT_GT(mem.lines_written_back(), 0u);
}

TEST(CacheFlush, LostFlushesAreSeen) {
  hw::SimPhysMem mem(4 * GiB);
  mem.enable_cpu_cache_model();
  DropsFlushes lossy(mem);
  // The root table was never written before (zeros either way): the first map is already stale.
  EXPECT_EQ(first_stale_call(lossy, mem, false), 1);
}

TEST(CacheFlush, CoherentTablesAreNeverFlushed) {
  hw::SimPhysMem mem(4 * GiB);
  EXPECT_EQ(first_stale_call(mem, mem, true), -1);  // trivially: no CPU-cache model
  EXPECT_EQ(mem.cache_flush_calls(), 0u);
}

// --- The driver's root and context tables, with the page table, on an emulated unit ----------

constexpr std::uint16_t kSid = 0x0210;
constexpr PhysAddr kBuffer = 0x80'0000;

// Attach, map, DMA, unmap, DMA, detach, DMA on a unit with ECAP.C = `coherent`, the driver and
// its page table writing through `driver_mem`. Returns how many of the 3 probes went as expected.
int scenario(bool coherent, bool lose_flushes, std::uint64_t* flush_calls) {
  hw::UnitConfig uc;
  uc.coherent = coherent;
  hw::SimPhysMem mem(256 * MiB);
  hw::RemappingUnit unit(uc, mem);
  DropsFlushes lossy(mem);
  PhysMem& driver_mem = lose_flushes ? static_cast<PhysMem&>(lossy) : mem;
  driver::RemappingDriver drv(unit, driver_mem);
  EXPECT_EQ(drv.init(), rcOk);
  const PageTableConfig pc = PageTableConfig::from_caps(
      CapReg::from(unit.read64(kRegCap)), EcapReg::from(unit.read64(kRegEcap)), uc.haw);
  EXPECT_EQ(pc.coherent_walks, coherent);
  SecondLevelPageTable pt(driver_mem, pc);
  EXPECT_EQ(pt.init(), rcOk);
  std::uint16_t did = 0;
  EXPECT_EQ(drv.allocate_did(&did), rcOk);
  EXPECT_EQ(drv.prepare_attach(kSid), rcOk);
  drv.attach(kSid, did, pt.root());
  EXPECT_EQ(pt.map(0x1000, kBuffer, 4 * KiB, kPermReadWrite), rcOk);
  drv.flush_new_range(did, 0x1000, 1);
  int ok = 0;
  PhysAddr pa = 0;
  ok += unit.translate(kSid, 0x1000, true, &pa) == hw::Fault::kNone && pa == kBuffer;
  PendingInvalidation p;
  EXPECT_EQ(pt.unmap(0x1000, 4 * KiB, p), rcOk);
  drv.flush_range(did, p);
  pt.complete(p);
  ok += unit.translate(kSid, 0x1000, true, &pa) == hw::Fault::kNoWrite;
  drv.detach(kSid, did);
  ok += unit.translate(kSid, 0x1000, true, &pa) == hw::Fault::kContextNotPresent;
  *flush_calls = mem.cache_flush_calls();
  if (!lose_flushes) {
    EXPECT_EQ(unit.use_after_free_count(), 0u);
  }
  return ok;
}

TEST(CacheFlush, DriverFlushesOnlyForANonCoherentUnit) {
  std::uint64_t calls = 0;
  EXPECT_EQ(scenario(true, false, &calls), 3);
  EXPECT_EQ(calls, 0u);
  EXPECT_EQ(scenario(false, false, &calls), 3);
  // Root table, context table, root entry, context entry (attach, detach), page table root, the
  // new tables of the map (flushed whole), the leaf and the link entries, the unmap's clears.
  EXPECT_GE(calls, 9u);
}

TEST(CacheFlush, DriverWithoutFlushesFailsOnANonCoherentUnitOnly) {
  std::uint64_t calls = 0;
  EXPECT_EQ(scenario(true, true, &calls), 3);  // nothing to lose on a coherent unit
  // Nothing reaches memory: the root entry of the bus is not present, so every probe faults 0x1.
  EXPECT_LT(scenario(false, true, &calls), 3);
}

}  // namespace
}  // namespace kniommu::vtd::testing_support
