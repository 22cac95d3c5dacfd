// The coverage hooks read what hardware sees: descriptors in the invalidation queue (between the
// last tail seen and IQT) and leaves in the tables the walker visits. Driven here with a fake
// adapter whose registers and physical memory the test writes, so each decoding rule is checked
// against hand-made bytes.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "coverage.h"
#include "coverage_counters.h"
#include "sut.h"

namespace kniommu::conformance {
namespace {

struct FakeHw {
  uint64_t cap = 0, iqa = 0, iqt = 0;
  std::vector<uint8_t> mem = std::vector<uint8_t>(1 << 20);
  void put_desc(uint64_t index, uint64_t lo, uint64_t hi) {
    std::memcpy(&mem[(iqa & ~uint64_t{0xFFF}) + index * 16], &lo, 8);
    std::memcpy(&mem[(iqa & ~uint64_t{0xFFF}) + index * 16 + 8], &hi, 8);
  }
};
FakeHw* g_hw = nullptr;
KnAdapterSession* const kSession = reinterpret_cast<KnAdapterSession*>(&g_hw);

KnAdapterV1 fake_adapter() {
  KnAdapterV1 a{};
  a.abi_version = KN_ADAPTER_ABI_VERSION;
  a.struct_size = sizeof(KnAdapterV1);
  a.system_create = [](const KnSimConfig*, KnAdapterSession** out) -> Retcode {
    *out = kSession;
    return rcOk;
  };
  a.system_destroy = [](KnAdapterSession*) {};
  a.read_reg64 = [](KnAdapterSession*, uint32_t off) -> uint64_t {
    return off == 0x08 ? g_hw->cap : off == 0x88 ? g_hw->iqt : off == 0x90 ? g_hw->iqa : 0;
  };
  a.phys_read = [](KnAdapterSession*, uint64_t pa, void* out, size_t len) -> Retcode {
    if (pa + len > g_hw->mem.size()) return rcInvalidArgument;
    std::memcpy(out, &g_hw->mem[pa], len);
    return rcOk;
  };
  return a;
}

constexpr uint64_t kCtxGlobal = 0x1 | (1 << 4), kIotlbDomain = 0x2 | (2 << 4),
                   kIotlbPage = 0x2 | (3 << 4), kWait = 0x5;

// A KnIoDmaBegin call (`call` as the suite prints it) that submitted `descs` (lo, hi) at queue
// slots `first`, `first` + 1, ...: the descriptors are written and the tail moved past them.
void begin_submitted(FakeHw& hw, const Sut& sut, uint64_t first,
                     std::initializer_list<std::pair<uint64_t, uint64_t>> descs, const char* call) {
  for (const auto& [lo, hi] : descs) hw.put_desc(first++, lo, hi);
  hw.iqt = first << 4;
  coverage::call(call, rcOk);
  coverage::after_command(sut, "KnIoDmaBegin");
}

TEST(Coverage, CountsQueuedInvalidationsOnceEach) {
  FakeHw hw;
  g_hw = &hw;
  const KnAdapterV1 api = fake_adapter();
  Sut sut(api, standard_configs().front(), 0);
  ASSERT_TRUE(sut.ok());
  coverage::Counts c;
  coverage::begin_case(&c);
  hw.iqa = 0x10000;  // QS=0: 256 descriptors
  begin_submitted(hw, sut, 0, {{kCtxGlobal, 0}, {kIotlbPage, 3 /* AM=3 */}, {kWait, 0}},
                  "KnIoDmaBegin(pid=1, rid=1)");
  EXPECT_EQ(c["inv:context:global"], 1u);
  EXPECT_EQ(c["inv:iotlb:page:am=3"], 1u);
  EXPECT_EQ(c["inv:wait"], 1u);
  EXPECT_EQ(c.count("cm1:KnIoDmaBegin:iotlb"), 0u);  // CAP.CM=0

  hw.cap = 1 << 7;  // CM=1: a granting call's invalidations are the CM=1 path
  begin_submitted(hw, sut, 3, {{kIotlbDomain, 0}}, "KnIoDmaBegin(pid=1, rid=2)");
  EXPECT_EQ(c["inv:iotlb:domain"], 1u);
  EXPECT_EQ(c["cm1:KnIoDmaBegin:iotlb"], 1u);
  EXPECT_EQ(c["inv:context:global"], 1u);  // not counted again

  // The queue wraps: tail 255 -> 1.
  for (uint64_t i = 4; i < 255; ++i) hw.put_desc(i, kWait, 0);
  hw.iqt = 255 << 4;
  coverage::after_command(sut, "filler");
  hw.put_desc(255, kCtxGlobal, 0);
  hw.put_desc(0, kCtxGlobal, 0);
  hw.iqt = 1 << 4;
  coverage::after_command(sut, "wrap");
  EXPECT_EQ(c["inv:context:global"], 3u);
  EXPECT_EQ(c["inv:wait"], 252u);
  coverage::end_case();
}

// One case on the fake hardware: the hooks count into `c`.
struct FakeCase {
  FakeHw hw;
  KnAdapterV1 api = (g_hw = &hw, fake_adapter());
  Sut sut{api, standard_configs().front(), 0};
  coverage::Counts c;
  FakeCase() { coverage::begin_case(&c); }
  ~FakeCase() { coverage::end_case(); }
};

TEST(Coverage, LeavesUnmappedOnlyWhereTheTableIsStillWalked) {
  FakeCase f;
  Sut& sut = f.sut;
  coverage::Counts& c = f.c;
  const uint64_t root = 0x5000;
  coverage::view_root(root);
  coverage::view_leaf(root, 0, 1);
  coverage::view_leaf(root, uint64_t{1} << 21, 2);
  coverage::after_command(sut, "map");
  EXPECT_EQ(c["leaf:mapped:4K"], 1u);
  EXPECT_EQ(c["leaf:mapped:2M"], 1u);
  coverage::view_root(root);
  coverage::view_leaf(root, 0, 1);  // still there: not mapped again
  coverage::after_command(sut, "unmap 2M");
  EXPECT_EQ(c["leaf:mapped:4K"], 1u);
  EXPECT_EQ(c["leaf:unmapped:2M"], 1u);
  coverage::after_command(sut, "detach");  // the table is no longer walked: nothing unmapped
  EXPECT_EQ(c.count("leaf:unmapped:4K"), 0u);
}

// Two walks of one table in one command (a DMA probe's view, then the refinement check's): the
// last one counts. Tables are told apart by root; a leaf replaced by one of another size at the
// same IOVA is an unmap and a map.
TEST(Coverage, LeavesComparePerTableWithTheLastWalkOfACommand) {
  FakeCase f;
  Sut& sut = f.sut;
  coverage::Counts& c = f.c;
  const uint64_t a = 0x5000, b = 0x6000, page = 0x1000;
  coverage::view_root(a);
  for (uint64_t i = 0; i < 512; ++i) coverage::view_leaf(a, i * page, 1);
  coverage::view_root(b);
  coverage::view_leaf(b, 0, 1);
  coverage::view_root(a);  // walked again in the same command: the table now has 2 leaves
  coverage::view_leaf(a, 0, 1);
  coverage::view_leaf(a, page, 1);
  coverage::after_command(sut, "map");
  EXPECT_EQ(c["leaf:mapped:4K"], 3u);
  coverage::view_root(a);
  coverage::view_leaf(a, 0, 2);  // the same IOVA as a 2 MiB leaf
  coverage::view_root(b);
  coverage::view_leaf(b, 0, 1);
  coverage::after_command(sut, "remap");
  EXPECT_EQ(c["leaf:mapped:2M"], 1u);
  EXPECT_EQ(c["leaf:unmapped:4K"], 2u);
  EXPECT_EQ(c["leaf:mapped:4K"], 3u);  // b's leaf unchanged
}

// One view of a table root as the walker reports it: single leaves and last-level tables.
struct ViewPart {
  std::shared_ptr<const coverage::TableLeaves> table;  // null: the leaf `key`
  uint64_t key = 0;
};

// The leaves of a view as a set (what both views' comparison must amount to).
std::set<uint64_t> leaf_set(const std::vector<ViewPart>& v) {
  std::set<uint64_t> out;
  for (const ViewPart& p : v) {
    if (p.table == nullptr) {
      out.insert(p.key);
      continue;
    }
    for (unsigned i = 0; i < 512; ++i)
      if ((p.table->present[i / 64] >> (i % 64)) & 1)
        out.insert(coverage::leaf_key(p.table->base + (uint64_t{i} << 12), 1));
  }
  return out;
}

void report(uint64_t root, const std::vector<ViewPart>& v) {
  coverage::view_root(root);
  for (const ViewPart& p : v) {
    if (p.table != nullptr)
      coverage::view_leaf_table(root, p.table);
    else
      coverage::view_leaf(root, p.key & ~uint64_t{0xFFF}, static_cast<unsigned>(p.key & 0xFFF));
  }
}

// Uniform in [lo, hi) whatever RapidCheck's size (which would pin small cases to `lo`).
template <typename T>
T pick(T lo, T hi) {
  return *rc::gen::resize(rc::kNominalSize, rc::gen::inRange<T>(lo, hi));
}

// Random leaves in the first 16 MiB (eight 2 MiB slots), in walk order: per slot nothing, a
// 2 MiB leaf, a last-level table (or, sometimes, 4 KiB leaves reported one by one). A table is
// sometimes the previous view's decoding itself (shared), or a new one for the same slot whose
// present bits differ in a few entries. Rarely out of walk order or with a leaf twice (the
// comparison's fallback).
std::vector<ViewPart> gen_view(const std::vector<ViewPart>& prev) {
  std::vector<ViewPart> v;
  for (uint64_t slot = 0; slot < 8; ++slot) {
    const uint64_t base = slot << 21;
    const ViewPart* old = nullptr;
    for (const ViewPart& p : prev)
      if (p.table != nullptr && p.table->base == base) old = &p;
    switch (pick(0, 6)) {
      case 0:
        break;
      case 1:
        v.push_back({nullptr, coverage::leaf_key(base, 2)});
        break;
      case 2:  // 4 KiB leaves one by one
        for (uint64_t i = 0; i < 512; i += pick<uint64_t>(1, 200))
          v.push_back({nullptr, coverage::leaf_key(base + (i << 12), 1)});
        break;
      default: {
        if (old != nullptr && pick(0, 2) == 0) {
          v.push_back(*old);  // the same decoding
          break;
        }
        auto t = std::make_shared<coverage::TableLeaves>();
        t->base = base;
        if (old != nullptr && pick(0, 2) == 0) t->present = old->table->present;
        else if (pick(0, 2) == 0) t->present.fill(~uint64_t{0});
        for (int k = pick(0, 6); k > 0; --k) {
          const unsigned i = pick(0u, 512u);
          t->present[i / 64] ^= uint64_t{1} << (i % 64);
        }
        for (uint64_t w : t->present) t->count += static_cast<unsigned>(std::popcount(w));
        v.push_back({t, 0});
      }
    }
  }
  if (!v.empty() && pick(0, 10) == 0) v.push_back(v.front());  // a leaf twice
  if (v.size() > 1 && pick(0, 10) == 0) std::swap(v.front(), v.back());
  return v;
}

// Two views of one root, any leaves: the leaves mapped and unmapped between them are the set
// differences, by size, however the views share, split or order their segments.
RC_GTEST_PROP(Coverage, LeafChangesAreTheSetDifferencesOfTwoViews, ()) {
  FakeCase f;
  const uint64_t root = 0x5000;
  std::vector<ViewPart> before = gen_view({});
  if (before.empty()) before.push_back({nullptr, coverage::leaf_key(0, 2)});
  report(root, before);
  coverage::after_command(f.sut, "first");
  const coverage::Counts first = f.c;
  const std::vector<ViewPart> now = gen_view(before);
  report(root, now);
  coverage::after_command(f.sut, "second");
  const std::set<uint64_t> a = leaf_set(now), b = leaf_set(before);
  for (const auto& [level, size] : {std::pair{1u, "4K"}, std::pair{2u, "2M"}}) {
    uint64_t mapped = 0, unmapped = 0;
    for (uint64_t l : a) mapped += (l & 0xFFF) == level && !b.count(l);
    for (uint64_t l : b) unmapped += (l & 0xFFF) == level && !a.count(l);
    const auto delta = [&](const std::string& key) {
      const auto now_it = f.c.find(key);
      const auto was = first.find(key);
      return (now_it == f.c.end() ? 0 : now_it->second) - (was == first.end() ? 0 : was->second);
    };
    RC_ASSERT(delta(std::string("leaf:mapped:") + size) == mapped);
    RC_ASSERT(delta(std::string("leaf:unmapped:") + size) == unmapped);
  }
}

// Sut::claim_frames keeps adjacent blocks of one buffer as one range; whatever the order and
// adjacency of the blocks, a claim fails exactly when the block overlaps a block of another
// buffer still alive (checked against every block ever claimed, kept in a plain list).
RC_GTEST_PROP(ChecksTeeth, FrameClaimsFailExactlyOnOverlapWithALiveBuffer, ()) {
  FakeCase f;
  Sut& sut = f.sut;
  struct Block {
    uint64_t pa, end;
    model::BufferId buffer;
  };
  std::vector<Block> all;
  const int buffers = pick(1, 12);
  for (model::BufferId b = 1; b <= static_cast<model::BufferId>(buffers); ++b) {
    sut.model.buffers[b] = model::Buffer{};
    const uint32_t order = pick(0u, 3u);
    const uint64_t bytes = kPage << order;
    uint64_t pa = pick<uint64_t>(0, 64) * bytes;
    for (int k = pick(1, 8); k > 0; --k) {
      if (pick(0, 3) == 0) pa = pick<uint64_t>(0, 64) * bytes;  // else the next frames
      bool overlaps = false;
      for (const Block& o : all)
        overlaps = overlaps || (o.buffer != b && sut.model.buffers.count(o.buffer) != 0 &&
                                o.pa < pa + bytes && pa < o.end);
      const bool claimed = sut.claim_frames(pa, bytes, b);
      RC_ASSERT(claimed == !overlaps);
      if (!claimed) return;  // the case fails here in the suite: nothing after it counts
      all.push_back(Block{pa, pa + bytes, b});
      pa += bytes;
    }
    if (pick(0, 3) == 0) sut.model.buffers.erase(pick<model::BufferId>(1, b + 1));  // one dies
  }
}

// Grants a 1 GiB (and 2 MiB) leaf could map are required on every IOMMU-enabled configuration,
// also without superpages there (the page table must then not use one); superpage leaves only
// where CAP.SLLPS advertises them.
TEST(Coverage, SuperpageSizedGrantsAreRequiredOnEveryConfiguration) {
  for (const HwConfig& cfg : standard_configs()) {
    const std::vector<std::string> req = required_paths(cfg);
    const auto has = [&](const char* p) {
      return std::find(req.begin(), req.end(), p) != req.end();
    };
    if (cfg.sim.iommu_enabled == 0) {
      EXPECT_TRUE(req.empty()) << cfg.name;
      continue;
    }
    EXPECT_TRUE(has(path::kGrantAligned1G)) << cfg.name;
    EXPECT_TRUE(has(path::kGrantAligned2M)) << cfg.name;
    EXPECT_TRUE(has(path::kBlock1G)) << cfg.name;
    EXPECT_EQ(has(path::kLeaf1G), (cfg.sim.sllps & 0x2) != 0) << cfg.name;
    EXPECT_EQ(has(path::kLeaf2M), (cfg.sim.sllps & 0x1) != 0) << cfg.name;
  }
}

TEST(Coverage, SerializedCountsRoundTripAndMalformedLinesAreRefused) {
  const coverage::Counts c{{"call:KnIoClose:rcOk", 3}, {"dma:fault:0x5", 12}};
  coverage::Counts back;
  ASSERT_TRUE(coverage::parse(coverage::serialize(c), back));
  EXPECT_EQ(back, c);
  for (const char* bad : {"key\n", "key x\n", " 3\n", "key 99999999999999999999\n"}) {
    coverage::Counts out;
    EXPECT_FALSE(coverage::parse(bad, out)) << bad;
  }
}

// Commands print the spec's action names; the coverage keys (docs/semantics.md's table) are the C
// API's. Every command printed as in the suite must land on its C key.
TEST(Coverage, SpecNamedCommandsCountUnderTheirCApiCall) {
  coverage::Counts c;
  coverage::begin_case(&c);
  coverage::call("AttachDevice(pid=1, bdf=0x8)", rcOk);
  coverage::call("AttachDeviceToDomain(pid=1, bdf=0x8, h=2)", rcBusy);
  coverage::call("DmaBeginEx(pid=1, rid=1, domain=2)", rcOk);
  coverage::call("DmaGetPhysInfo(pid=1, rid=1)", rcHandleRevoked);
  coverage::call("HandleClose(pid=1, h=3)", rcOk);
  coverage::call("HandleClose(pid=1, h=3, via=KnIoClose)", rcInvalidArgument);
  coverage::call("ProcessExit(pid=1)", rcOk);
  coverage::end_case();
  EXPECT_EQ(c["call:KnIommuAttachDevice:rcOk"], 1u);
  EXPECT_EQ(c["call:KnIommuAttachDeviceToDomain:rcBusy"], 1u);
  EXPECT_EQ(c["call:KnIoDmaBeginEx:rcOk"], 1u);
  EXPECT_EQ(c["call:KnIoDmaGetPhysInfo:rcHandleRevoked"], 1u);
  EXPECT_EQ(c["call:KnHandleClose:rcOk"], 1u);
  EXPECT_EQ(c["call:KnIoClose:rcInvalidArgument"], 1u);
  EXPECT_EQ(c["call:ProcessExit:rcOk"], 1u);
  EXPECT_EQ(c.count("call:AttachDevice:rcOk"), 0u);
}

}  // namespace
}  // namespace kniommu::conformance
