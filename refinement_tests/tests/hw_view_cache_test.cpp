// The hardware view's leaf-table cache (hw_view.h) must be invisible: after any change to the
// table memory, the view built with the cache equals the one a full decode builds. The tables
// are hand-made in a fake adapter's memory, so every kind of change the cache keys on (entry
// bytes, a table reached at another IOVA, a different permission inherited from above) is
// produced directly.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <array>
#include <cstring>
#include <map>

#include "hw_view.h"

namespace kniommu::conformance {
namespace {

using Page = std::array<uint64_t, 512>;
std::map<uint64_t, Page> g_mem;

constexpr uint64_t kRoot = 0x1000, kCtx = 0x2000, kPml4 = 0x10000, kPdpt = 0x11000,
                   kPd = 0x12000, kLeafTables = 0x20000;  // 4 last-level tables from here
constexpr uint64_t kRW = 0x3;

uint64_t read_reg64(KnAdapterSession*, uint32_t offset) {
  if (offset == 0x20) return kRoot;  // RTADDR
  return 0;                          // CAP: no superpages (SLLPS 0)
}
Retcode phys_read(KnAdapterSession*, uint64_t pa, void* out, size_t len) {
  if (pa % 4096 != 0 || len != 4096) return rcInvalidArgument;
  const auto it = g_mem.find(pa);
  if (it == g_mem.end())
    std::memset(out, 0, len);
  else
    std::memcpy(out, it->second.data(), len);
  return rcOk;
}

KnAdapterV1 fake_adapter() {
  KnAdapterV1 a{};
  a.read_reg64 = read_reg64;
  a.phys_read = phys_read;
  return a;
}

// One device (bus 0, devfn 8, DID 5) on a 4-level table whose PD points at the 4 leaf tables.
void build_tables() {
  g_mem.clear();
  g_mem[kRoot][0] = kCtx | 1;
  g_mem[kCtx][2 * 8] = kPml4 | 1;                  // present, TT 00
  g_mem[kCtx][2 * 8 + 1] = (uint64_t{5} << 8) | 2;  // DID 5, AW 2 (4 levels)
  g_mem[kPml4][0] = kPdpt | kRW;
  g_mem[kPdpt][0] = kPd | kRW;
  for (uint64_t t = 0; t < 4; ++t) {
    g_mem[kPd][t] = (kLeafTables + t * 0x1000) | kRW;
    for (uint64_t i = 0; i < 512; ++i)  // contiguous: one run per table
      g_mem[kLeafTables + t * 0x1000][i] = (0x40000000 + (t * 512 + i) * 4096) | kRW;
  }
}

void expect_same(const HwView& cached, const HwView& full) {
  ASSERT_EQ(cached.devices.size(), full.devices.size());
  for (const auto& [bdf, d] : full.devices) {
    const HwDevice& c = cached.devices.at(bdf);
    EXPECT_EQ(c.did, d.did);
    EXPECT_EQ(c.root, d.root);
    EXPECT_EQ(c.levels, d.levels);
    EXPECT_EQ(c.runs, d.runs) << "cached " << c.runs << "\nfull   " << d.runs;
  }
  EXPECT_EQ(cached.errors, full.errors);
  EXPECT_EQ(cached.table_pages, full.table_pages);
}

TEST(HwViewCache, ReusedDecodingsGiveTheFullView) {
  build_tables();
  const KnAdapterV1 api = fake_adapter();
  auto* s = reinterpret_cast<KnAdapterSession*>(&g_mem);
  ViewCache cache;
  expect_same(read_hw_view(api, s, &cache), read_hw_view(api, s, nullptr));
  expect_same(read_hw_view(api, s, &cache), read_hw_view(api, s, nullptr));
  EXPECT_EQ(cache.hits(), 4u);  // the second view decoded nothing
  EXPECT_EQ(cache.misses(), 4u);
}

// After every random change of table memory the cached view is the full one.
RC_GTEST_PROP(HwViewCache, AnyChangeOfTableMemoryIsSeen, ()) {
  build_tables();
  const KnAdapterV1 api = fake_adapter();
  auto* s = reinterpret_cast<KnAdapterSession*>(&g_mem);
  ViewCache cache;
  (void)read_hw_view(api, s, &cache);
  const int steps = *rc::gen::inRange(1, 40);
  for (int k = 0; k < steps; ++k) {
    switch (*rc::gen::inRange(0, 4)) {
      case 0: {  // a leaf entry: another frame, another permission, or not present
        const uint64_t t = *rc::gen::inRange<uint64_t>(0, 4);
        const uint64_t i = *rc::gen::inRange<uint64_t>(0, 512);
        const uint64_t pa = *rc::gen::inRange<uint64_t>(0x40000, 0x40400) << 12;
        g_mem[kLeafTables + t * 0x1000][i] = pa | *rc::gen::inRange<uint64_t>(0, 4);
        break;
      }
      case 1: {  // the PD points a slot at another leaf table: same bytes, another IOVA
        const uint64_t slot = *rc::gen::inRange<uint64_t>(0, 8);
        const uint64_t t = *rc::gen::inRange<uint64_t>(0, 4);
        g_mem[kPd][slot] = (kLeafTables + t * 0x1000) | kRW;
        break;
      }
      case 2: {  // a PD entry's permission: what the leaves below inherit
        const uint64_t slot = *rc::gen::inRange<uint64_t>(0, 4);
        g_mem[kPd][slot] = (g_mem[kPd][slot] & ~kRW) | *rc::gen::inRange<uint64_t>(0, 4);
        break;
      }
      default: {  // the same leaf table reached through the PDPT at another 1 GiB slot
        g_mem[kPdpt][*rc::gen::inRange<uint64_t>(1, 3)] = kPd | kRW;
        break;
      }
    }
    const HwView cached = read_hw_view(api, s, &cache);
    const HwView full = read_hw_view(api, s, nullptr);
    RC_ASSERT(cached.devices.size() == full.devices.size());
    for (const auto& [bdf, d] : full.devices) RC_ASSERT(cached.devices.at(bdf).runs == d.runs);
    RC_ASSERT(cached.errors == full.errors);
    RC_ASSERT(cached.table_pages == full.table_pages);
  }
}

}  // namespace
}  // namespace kniommu::conformance
