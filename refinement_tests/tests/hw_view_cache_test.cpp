// The hardware view's leaf-table cache (hw_view.h) must be invisible: after any change to the
// table memory, the view built with the cache equals the one a full decode builds. The tables
// are hand-made in a fake adapter's memory, so every kind of change the cache keys on (entry
// bytes, a table reached at another IOVA, a different permission inherited from above) is
// produced directly.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "coverage_counters.h"
#include "hw_view.h"
#include "sut.h"

namespace kniommu::conformance {
namespace {

using Page = std::array<uint64_t, 512>;
std::map<uint64_t, Page> g_mem;

constexpr uint64_t kRoot = 0x1000, kCtx = 0x2000, kCtx15 = 0x3000, kPml4 = 0x10000, kPdpt = 0x11000,
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

KnAdapterV1 fake_adapter(uint64_t (*generation)(KnAdapterSession*, uint64_t) = nullptr) {
  KnAdapterV1 a{};
  a.phys_frame_generation = generation;
  a.read_reg64 = read_reg64;
  a.phys_read = phys_read;
  a.system_create = [](const KnSimConfig*, KnAdapterSession** out) -> Retcode {
    *out = reinterpret_cast<KnAdapterSession*>(&g_mem);
    return rcOk;
  };
  a.system_destroy = [](KnAdapterSession*) {};
  return a;
}

// Frame write generations of the fake memory (adapter entry phys_frame_generation): honest, from
// a comparison of the page with its copy at the last query; or lying, the same value for ever.
std::map<uint64_t, std::pair<Page, uint64_t>> g_generations;  // pa -> page when asked, value
uint64_t g_last_generation = 0;
uint64_t honest_generation(KnAdapterSession*, uint64_t pa) {
  const auto it = g_mem.find(pa);
  const Page now = it == g_mem.end() ? Page{} : it->second;
  const auto [kept, fresh] = g_generations.try_emplace(pa);
  if (fresh || kept->second.first != now) kept->second = {now, ++g_last_generation};
  return kept->second.second;
}
uint64_t lying_generation(KnAdapterSession*, uint64_t) { return 1; }

// Three devices (bus 0 devfn 8 and 15, bus 15 devfn 7: each the last of a group of eight
// entries the walker skips at once when none is present; DID 5) on one 4-level table whose PD
// points at the 4 leaf tables.
void build_tables() {
  g_mem.clear();
  g_mem[kRoot][0] = kCtx | 1;
  g_mem[kRoot][2 * 15] = kCtx15 | 1;
  for (const auto& [ctx, devfn] : {std::pair{kCtx, 8}, std::pair{kCtx, 15}, std::pair{kCtx15, 7}}) {
    g_mem[ctx][2 * devfn] = kPml4 | 1;                  // present, TT 00
    g_mem[ctx][2 * devfn + 1] = (uint64_t{5} << 8) | 2;  // DID 5, AW 2 (4 levels)
  }
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
void any_change_of_table_memory_is_seen(const KnAdapterV1& api) {
  build_tables();
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
  // Views 3 and later (after the verifying views 1 and 2) took unchanged tables without reading.
  if (api.phys_frame_generation != nullptr && steps >= 2) RC_ASSERT(cache.reused() > 0u);
}

RC_GTEST_PROP(HwViewCache, AnyChangeOfTableMemoryIsSeen, ()) {
  any_change_of_table_memory_is_seen(fake_adapter());
}

// The same with frame write generations: a table whose generation is unchanged is not read, and
// the view is still the full one.
RC_GTEST_PROP(HwViewCache, AnyChangeOfTableMemoryIsSeenWithFrameGenerations, ()) {
  any_change_of_table_memory_is_seen(fake_adapter(honest_generation));
}

// An adapter whose generations never change hides every write from the cache; the verifying
// view (ViewCache) that follows the change reads every table and reports the frame, with the true
// view. Changed: a leaf table, an upper second-level table, the root table.
TEST(HwViewCache, ChangeWithoutGenerationChangeIsReportedWithinThePeriod) {
  for (const auto& [changed, entry] :
       {std::pair{kLeafTables + 0x1000, 3}, std::pair{kPd, 2}, std::pair{kRoot, 2 * 15}}) {
    build_tables();
    const KnAdapterV1 api = fake_adapter(lying_generation);
    auto* s = reinterpret_cast<KnAdapterSession*>(&g_mem);
    ViewCache cache;
    constexpr uint64_t kBefore = 20;  // past views 1, 2, 4, 8, 16: the steady period
    for (uint64_t v = 1; v <= kBefore; ++v) ASSERT_TRUE(read_hw_view(api, s, &cache).errors.empty());
    g_mem[changed][entry] = 0;  // not present
    const HwView full = read_hw_view(api, s, nullptr);
    uint64_t reported = 0;
    for (uint64_t v = kBefore + 1; v <= kBefore + ViewCache::kVerifyPeriod && reported == 0; ++v) {
      const HwView view = read_hw_view(api, s, &cache);
      if (view.errors.empty()) continue;
      reported = v;
      std::ostringstream want;
      want << "frame 0x" << std::hex << changed << " changed without a write generation change";
      EXPECT_EQ(view.errors, std::vector<std::string>{want.str()});
      HwView rest = view;  // apart from the report, the true view
      rest.errors.clear();
      expect_same(rest, full);
    }
    EXPECT_EQ(reported, 2 * ViewCache::kVerifyPeriod) << "changed frame 0x" << std::hex << changed;
  }
}

// Uniform in [lo, hi) whatever RapidCheck's size.
template <typename T>
T pick(T lo, T hi) {
  return *rc::gen::resize(rc::kNominalSize, rc::gen::inRange<T>(lo, hi));
}

constexpr uint64_t kAddr = 0x000FFFFFFFFFF000ull;  // bits 51:12 (VT-d spec §9.8)

// What the walker must find, decoded here entry by entry: the normalized runs, the leaves (as
// coverage keys) and the table pages of the test's one device (4 levels from kPml4; CAP.SLLPS 0,
// so an upper entry with PS set leads nowhere).
struct Reference {
  Runs runs;
  std::vector<uint64_t> leaves;  // ascending: entries are visited in IOVA order
  std::set<uint64_t> pages{kRoot, kCtx, kCtx15};
  void walk(uint64_t table, unsigned level, uint64_t base, uint64_t perm) {
    pages.insert(table);
    const auto it = g_mem.find(table);
    if (it == g_mem.end()) return;
    for (uint64_t i = 0; i < 512; ++i) {
      const uint64_t e = it->second[i];
      if ((e & kRW) == 0) continue;
      const uint64_t iova = base + (i << (12 + 9 * (level - 1))), p = perm & e & kRW;
      if (level == 1) {
        leaves.push_back(coverage::leaf_key(iova, 1));
        if (p == 0) continue;
        Run* last = runs.empty() ? nullptr : &runs.back();
        if (last != nullptr && last->perm == p && last->iova + last->pages * 4096 == iova &&
            last->pa + last->pages * 4096 == (e & kAddr))
          ++last->pages;
        else
          runs.push_back(Run{iova, 1, e & kAddr, static_cast<uint8_t>(p)});
      } else if ((e & 0x80) == 0 && p != 0) {
        walk(e & kAddr, level - 1, iova, p);
      }
    }
  }
};

// A leaf table of 512 entries each one page above the last, from a frame low in memory or from
// one at most 511 pages below the top of the address field (the entries then carry out of it
// into bit 52: no longer contiguous), with some ignored high bits; sometimes one entry differs.
void fill_contiguous(Page& t) {
  const uint64_t frame = pick(0, 2) == 0 ? (0x40000 + pick<uint64_t>(0, 0x400)) << 12
                                          : kAddr - (pick<uint64_t>(0, 511) << 12);
  const uint64_t e0 = frame | pick<uint64_t>(1, 4) | (pick<uint64_t>(0, 4) << 60);
  for (uint64_t i = 0; i < 512; ++i) t[i] = e0 + (i << 12);
  if (pick(0, 2) == 0) return;
  uint64_t& e = t[pick<size_t>(0, 512)];
  switch (pick(0, 4)) {
    case 0: e += 4096; break;                          // another frame
    case 1: e = (e & ~kRW) | pick<uint64_t>(0, 4); break;  // another permission, or absent
    case 2: e ^= uint64_t{1} << pick(52, 64); break;     // an ignored high bit
    default: e ^= uint64_t{1} << pick(2, 12); break;     // an ignored low bit
  }
}

// The cached view of random table memory is the reference decoding: runs, table pages (each
// once, though a table may be reached twice) and the leaves the coverage hooks count as mapped
// and unmapped from one view to the next.
void view_is_the_reference_decoding(const KnAdapterV1& api) {
  build_tables();
  auto* s = reinterpret_cast<KnAdapterSession*>(&g_mem);
  Sut sut(api, standard_configs().front(), 0);
  RC_ASSERT(sut.ok());
  coverage::Counts c;
  coverage::begin_case(&c);
  ViewCache cache;
  std::vector<uint64_t> before;
  const int steps = pick(1, 16);
  for (int k = 0; k < steps; ++k) {
    const uint64_t t = pick<uint64_t>(0, 4);
    Page& leaf = g_mem[kLeafTables + t * 0x1000];
    switch (pick(0, 6)) {
      case 0:
        leaf[pick<size_t>(0, 512)] = (pick<uint64_t>(0x40000, 0x40400) << 12) | pick<uint64_t>(0, 4);
        break;
      case 1:
        g_mem[kPd][pick<size_t>(0, 8)] = (kLeafTables + t * 0x1000) | kRW;
        break;
      case 2:
        g_mem[kPdpt][pick<size_t>(1, 16)] = kPd | kRW;  // the PD reached twice
        break;
      case 3: {  // what the leaves below inherit: leaves without effective permission remain
        uint64_t& e = g_mem[kPd][pick<size_t>(0, 4)];
        e = (e & ~kRW) | pick<uint64_t>(0, 4);
        break;
      }
      default:
        fill_contiguous(leaf);
        break;
    }
    const uint64_t mapped = c["leaf:mapped:4K"], unmapped = c["leaf:unmapped:4K"];
    const HwView v = read_hw_view(api, s, &cache);
    coverage::after_command(sut, "step");
    Reference ref;
    ref.walk(kPml4, 4, 0, kRW);
    RC_ASSERT(v.devices.size() == 3u);
    for (const auto& [bdf, d] : v.devices) RC_ASSERT(d.runs == ref.runs);
    RC_ASSERT(v.table_pages == std::vector<uint64_t>(ref.pages.begin(), ref.pages.end()));
    RC_ASSERT(std::is_sorted(ref.leaves.begin(), ref.leaves.end()));
    std::vector<uint64_t> new_leaves, gone;
    std::set_difference(ref.leaves.begin(), ref.leaves.end(), before.begin(), before.end(),
                        std::back_inserter(new_leaves));
    std::set_difference(before.begin(), before.end(), ref.leaves.begin(), ref.leaves.end(),
                        std::back_inserter(gone));
    RC_ASSERT(c["leaf:mapped:4K"] - mapped == new_leaves.size());
    RC_ASSERT(c["leaf:unmapped:4K"] - unmapped == gone.size());
    before = ref.leaves;
  }
  coverage::end_case();
}

RC_GTEST_PROP(HwViewCache, ViewIsTheReferenceDecodingOfTableMemory, ()) {
  view_is_the_reference_decoding(fake_adapter());
}

// With frame write generations the coverage hooks see the same leaves (views 3 and later take
// unchanged tables without reading them).
RC_GTEST_PROP(HwViewCache, ViewIsTheReferenceDecodingWithFrameGenerations, ()) {
  view_is_the_reference_decoding(fake_adapter(honest_generation));
}

}  // namespace
}  // namespace kniommu::conformance
