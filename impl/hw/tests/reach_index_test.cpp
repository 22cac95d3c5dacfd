// The incremental use-after-free audit (ReachIndex + FrameRefs) against the full scan it replaces
// (Walker::for_each_reachable): after every random write into the structures, by every write
// path (write64, byte writes, host pointers), both must name exactly the same frames.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "hw/frame_refs.h"
#include "hw/reach_index.h"
#include "hw/tests/hw_fixture.h"

namespace kniommu::hw::test {
namespace {

constexpr std::uint64_t kMem = 64 * kMiB;

struct Audit {
  SimPhysMem mem{kMem};
  UnitConfig config = [] {
    UnitConfig c;
    c.sagaw = 0xE;  // 3, 4 and 5 levels
    c.sllps = 3;    // 2 MiB and 1 GiB leaves
    return c;
  }();
  Walker walker{config, mem};
  FrameRefs refs{kMem};
  ReachIndex index{walker, mem, refs};

  // Every range the full scan visits (nothing when the root is not live).
  std::vector<std::pair<PhysAddr, std::uint64_t>> full_scan(bool live, PhysAddr rta) const {
    std::vector<std::pair<PhysAddr, std::uint64_t>> out;
    if (live) walker.for_each_reachable(rta, [&](PhysAddr p, std::uint64_t n) { out.emplace_back(p, n); });
    return out;
  }
};

PhysAddr alloc(SimPhysMem& mem) {
  PhysAddr pa = 0;
  EXPECT_EQ(mem.alloc_frame(&pa), rcOk);
  return pa;
}

TEST(ReachIndex, AgreesWithTheFullScanUnderRandomWrites) {
  Audit a;
  std::mt19937_64 rng(17);
  std::vector<PhysAddr> frames;
  for (int i = 0; i < 48; ++i) frames.push_back(alloc(a.mem));
  const auto pick = [&] { return frames[rng() % frames.size()]; };
  const auto chance = [&](unsigned percent) { return rng() % 100 < percent; };
  PhysAddr rta = frames[0];
  bool live = true;

  // A random 64-bit entry: mostly empty (so the structure stays sparse and one missed write
  // changes answers), else a table pointer, a leaf (in or beyond memory), or junk.
  const auto sl_entry = [&]() -> std::uint64_t {
    switch (rng() % 10) {
      case 5:
      case 6:
        return sl_table_entry(pick(), chance(80) ? kRW : kR);
      case 7:
      case 8:
        return sl_leaf(chance(90) ? pick() : (std::uint64_t{1} << 40), 12, kRW);
      case 9:  // superpages away from the table frames (the first 2 MiB), rarely over them
        if (chance(20)) return rng();
        return chance(95) ? sl_leaf((1 + rng() % 15) << 21, 21, kW) : sl_leaf(0, 30, kR);
      default:
        return 0;
    }
  };
  const auto root_or_context_entry = [&](bool root) -> vtd::layout::Words<2> {
    if (chance(40)) return {0, 0};
    if (root) {
      vtd::RootEntry re;
      re.set_present(1).set_context_table(pick());
      return re.w;
    }
    vtd::ContextEntry ce;
    ce.set_present(1).set_aw(rng() % 4).set_did(rng() % 8).set_tt(chance(85) ? 0 : 2);
    ce.set_slptptr(pick());
    if (chance(5)) ce.w[1] |= rng();  // reserved bits: not followed
    return ce.w;
  };

  std::size_t checks = 0, referenced = 0;
  for (int step = 0; step < 1500; ++step) {
    const PhysAddr f = pick();
    const unsigned slot = static_cast<unsigned>(rng() % 512);
    const unsigned path = static_cast<unsigned>(rng() % 3);
    const bool wide = chance(30);  // a root/context-shaped write
    const vtd::layout::Words<2> w =
        wide ? root_or_context_entry(chance(50)) : vtd::layout::Words<2>{sl_entry(), 0};
    const unsigned idx = wide ? slot & ~1u : slot;
    if (path == 0) {
      a.mem.write64(f + 8 * idx, w[0]);
      if (wide) a.mem.write64(f + 8 * idx + 8, w[1]);
    } else if (path == 1) {
      a.mem.write(f + 8 * idx, w.data(), wide ? 16 : 8);
    } else {
      std::uint64_t* words = a.mem.frame_for_write(f);
      ASSERT_NE(words, nullptr);
      vtd::store_entry(words, idx, w[0]);
      if (wide) vtd::store_entry(words, idx + 1, w[1]);
    }
    if (chance(2)) live = !live;
    if (chance(2)) rta = pick();
    a.index.sync(live, rta);
    const auto scanned = a.full_scan(live, rta);
    std::vector<PhysAddr> probes = frames;  // plus one frame inside each superpage target
    for (std::uint64_t k = 1; k < 16; ++k) probes.push_back((k << 21) + ((rng() % 512) << 12));
    for (const PhysAddr g : probes) {
      bool expect = false;
      for (const auto& [p, n] : scanned) expect = expect || (p < g + vtd::kPageSize && g < p + n);
      ASSERT_EQ(a.refs.any(g, vtd::kPageSize), expect) << "step " << step << " frame " << g;
      ++checks;
      referenced += expect ? 1 : 0;
    }
  }
  // The walk must have been non-trivial: both answers occur often.
  EXPECT_GT(referenced, checks / 10);
  EXPECT_LT(referenced, checks - checks / 10);
}

// The seeded bug the write watch exists for: a table linked through a host pointer after the index
// was built. If stores through frame_for_write() pointers were not noticed, the freed table would
// look unreferenced.
TEST(ReachIndex, SeesTablesLinkedThroughHostPointers) {
  Audit a;
  const PhysAddr root = alloc(a.mem), ctx = alloc(a.mem), top = alloc(a.mem), t = alloc(a.mem);
  vtd::RootEntry re;
  re.set_present(1).set_context_table(ctx);
  vtd::write_entry128(a.mem, root, re.w);
  vtd::ContextEntry ce;
  ce.set_present(1).set_aw(2).set_did(1).set_slptptr(top);
  vtd::write_entry128(a.mem, ctx, ce.w);
  a.index.sync(true, root);
  EXPECT_TRUE(a.refs.any(top, vtd::kPageSize));
  EXPECT_FALSE(a.refs.any(t, vtd::kPageSize));

  vtd::store_entry(a.mem.frame_for_write(top), 5, sl_table_entry(t));
  a.index.sync(true, root);
  EXPECT_TRUE(a.refs.any(t, vtd::kPageSize));

  vtd::store_entry(a.mem.frame_for_write(top), 5, 0);
  a.index.sync(true, root);
  EXPECT_FALSE(a.refs.any(t, vtd::kPageSize));
  a.index.sync(false, root);  // root gone: nothing is reachable
  EXPECT_FALSE(a.refs.any(top, vtd::kPageSize));
  EXPECT_EQ(a.index.nodes(), 0u);
}

// The audit re-reads only the 64-byte lines logged as written (SimPhysMem's write log): a link
// made and removed in any line of a table, by every write path, must be seen — including, with
// ECAP.C = 0 (VT-d spec §10.4.3), only once the line is flushed and the walker can see it.
TEST(ReachIndex, SeesLinksInEveryLineByEveryWritePath) {
  for (const bool coherent : {true, false}) {
    Audit a;
    if (!coherent) a.mem.enable_cpu_cache_model();
    const PhysAddr root = alloc(a.mem), ctx = alloc(a.mem), top = alloc(a.mem), t = alloc(a.mem);
    vtd::RootEntry re;
    re.set_present(1).set_context_table(ctx);
    vtd::write_entry128(a.mem, root, re.w);
    vtd::ContextEntry ce;
    ce.set_present(1).set_aw(2).set_did(1).set_slptptr(top);
    vtd::write_entry128(a.mem, ctx, ce.w);
    a.mem.flush_cpu_cache(root, vtd::kPageSize);
    a.mem.flush_cpu_cache(ctx, vtd::kPageSize);
    a.index.sync(true, root);
    ASSERT_TRUE(a.refs.any(top, vtd::kPageSize));
    for (unsigned line = 0; line < 64; ++line) {
      const unsigned idx = 8 * line + line % 8;
      for (unsigned path = 0; path < (coherent ? 3u : 2u); ++path) {
        for (const std::uint64_t e : {sl_table_entry(t), std::uint64_t{0}}) {
          if (path == 0) {
            a.mem.write64(top + 8 * idx, e);
          } else if (path == 1) {
            a.mem.write(top + 8 * idx, &e, sizeof e);
          } else {
            vtd::store_entry(a.mem.frame_for_write(top), idx, e);
          }
          if (!coherent) {
            a.index.sync(true, root);  // not flushed yet: the walker still sees the old entry
            ASSERT_EQ(a.refs.any(t, vtd::kPageSize), e == 0) << "line " << line;
            a.mem.flush_cpu_cache(top + 8 * idx, 8);
          }
          a.index.sync(true, root);
          ASSERT_EQ(a.refs.any(t, vtd::kPageSize), e != 0)
              << "line " << line << " path " << path << " coherent " << coherent;
        }
      }
    }
  }
}

// Tables full of 4 KiB leaves mapping consecutive frames (how a driver maps a buffer page by
// page), which the index counts one run at a time: runs of every length, across the 4 MiB
// boundaries of FrameRefs' chunks, broken by empty entries, by non-present entries with address
// bits, by repeated and by backward frames, by a change of permissions, by superpages, by leaves
// beyond memory and by a carry out of the address field (frame 0 is named by that alone). After
// every change, loading, unloading and rewriting tables, the frames referenced must be exactly
// the full scan's, frame by frame.
// A root table whose context table gives one device a 3-level second-level tree: the top table's
// entry 0 points at the level-2 table `l2`, which is empty.
struct ThreeLevels {
  PhysAddr root, ctx, l2;
};
ThreeLevels three_levels(Audit& a) {
  const PhysAddr root = alloc(a.mem), ctx = alloc(a.mem), top = alloc(a.mem), l2 = alloc(a.mem);
  vtd::RootEntry re;
  re.set_present(1).set_context_table(ctx);
  vtd::write_entry128(a.mem, root, re.w);
  vtd::ContextEntry ce;
  ce.set_present(1).set_aw(1).set_did(1).set_slptptr(top);  // 3 levels
  vtd::write_entry128(a.mem, ctx, ce.w);
  a.mem.write64(top, sl_table_entry(l2));
  return {root, ctx, l2};
}

TEST(ReachIndex, AgreesWithTheFullScanOnDenseLeafRuns) {
  Audit a;
  std::mt19937_64 rng(23);
  constexpr std::uint64_t kFrames = kMem / vtd::kPageSize;
  const auto [root, ctx, l2] = three_levels(a);
  std::vector<PhysAddr> leaf_tables;
  for (int i = 0; i < 12; ++i) leaf_tables.push_back(alloc(a.mem));

  // One leaf table's entries: runs of consecutive frames, started mostly just below a 4 MiB
  // boundary so that many runs cross one.
  const auto fill = [&](std::vector<std::uint64_t>& t) {
    std::uint64_t next = 0;  // pfn the current run continues with
    for (unsigned i = 0; i < 512; ++i) {
      const unsigned kind = static_cast<unsigned>(rng() % 100);
      if (kind < 6) {
        t[i] = 0;
      } else if (kind < 9) {
        t[i] = (next << 12);  // address bits, R = W = 0: not present
      } else if (kind < 11) {
        t[i] = sl_leaf(std::uint64_t{1} << 40, 12, kRW);  // beyond memory
      } else if (kind < 13) {
        t[i] = sl_leaf((next > 1 ? next - 1 : 1) << 12, 12, kR);  // the previous frame again
      } else {
        if (kind < 20 || next == 0 || next >= kFrames) {  // a new run
          const std::uint64_t chunk = 1 + rng() % (kFrames / 1024 - 1);
          next = rng() % 3 == 0 ? 1 + rng() % (kFrames - 1) : chunk * 1024 - rng() % 40;
        }
        t[i] = sl_leaf(next << 12, 12, rng() % 4 == 0 ? kW : kRW);
        ++next;
      }
    }
  };
  std::vector<std::vector<std::uint64_t>> tables(leaf_tables.size(), std::vector<std::uint64_t>(512));
  for (std::size_t k = 0; k < leaf_tables.size(); ++k) {
    fill(tables[k]);
    a.mem.write(leaf_tables[k], tables[k].data(), vtd::kPageSize);
  }

  const auto check = [&](const char* what, int round) {
    a.index.sync(true, root);
    std::vector<bool> expect(kFrames, false);
    for (const auto& [p, n] : a.full_scan(true, root)) {
      for (std::uint64_t f = p >> 12; f < std::min(kFrames, (p + n) >> 12); ++f) expect[f] = true;
    }
    std::size_t referenced = 0, wrong = 0;
    for (std::uint64_t f = 0; f < kFrames; ++f) {
      if (a.refs.any(f << 12, vtd::kPageSize) != expect[f] && wrong++ == 0) {
        ADD_FAILURE() << what << " round " << round << ": frame " << f << " referenced "
                      << !expect[f] << ", the full scan says " << expect[f];
      }
      referenced += expect[f] ? 1 : 0;
    }
    EXPECT_EQ(wrong, 0u) << what << " round " << round;
    return referenced;
  };
  for (int round = 0; round < 24; ++round) {
    const unsigned op = static_cast<unsigned>(rng() % 4);
    const std::size_t k = rng() % leaf_tables.size();
    const unsigned slot = static_cast<unsigned>(1 + k);
    if (op == 0) {  // link a table already full (loaded whole)
      a.mem.write64(l2 + 8 * slot, sl_table_entry(leaf_tables[k]));
    } else if (op == 1) {  // unlink it (unloaded whole)
      a.mem.write64(l2 + 8 * slot, 0);
    } else if (op == 2) {  // rewrite part of a table, linked or not
      const unsigned from = static_cast<unsigned>(rng() % 512);
      const unsigned len = std::min(512u - from, static_cast<unsigned>(1 + rng() % 100));
      std::vector<std::uint64_t> fresh(512);
      fill(fresh);
      std::copy_n(fresh.begin(), len, tables[k].begin() + from);
      a.mem.write(leaf_tables[k] + 8 * from, tables[k].data() + from, 8 * len);
    } else {  // a 2 MiB leaf next to the tables (SLLPS advertises it)
      a.mem.write64(l2 + 8 * (100 + rng() % 4), rng() % 2 ? sl_leaf((8 + rng() % 20) << 21, 21, kR) : 0);
    }
    check("change", round);
    if (HasFatalFailure()) return;
  }
  for (std::size_t k = 0; k < leaf_tables.size(); ++k) {
    a.mem.write64(l2 + 8 * (1 + k), sl_table_entry(leaf_tables[k]));
  }
  // The highest 4 KiB leaf, then that entry plus 4 KiB: the carry leaves ADDR (bit 52 set, ADDR
  // 0), so the second names frame 0 (which no other leaf names), not the frame after the first.
  const std::uint64_t highest = sl_leaf(0x000F'FFFF'FFFF'F000, 12, kRW);
  a.mem.write64(leaf_tables[0] + 8 * 510, highest);
  a.mem.write64(leaf_tables[0] + 8 * 511, highest + vtd::kPageSize);
  ASSERT_FALSE(a.refs.any(0, vtd::kPageSize));
  EXPECT_GT(check("all linked", 0), 2500u);
  EXPECT_TRUE(a.refs.any(0, vtd::kPageSize));
  if (HasFatalFailure()) return;
  // Clearing the context entry unloads every table at once: only the root and context tables are
  // left referenced.
  vtd::write_entry128(a.mem, ctx, vtd::layout::Words<2>{0, 0});
  EXPECT_EQ(check("context cleared", 0), 2u);
}

// ReachIndex::table_refs takes a whole 64-byte line of 4 KiB leaves at once when every entry in
// it extends the run (and skips a line of empty entries at once): a table of consecutive leaves
// broken by one entry, in every one of the eight slots of the first, middle and last lines, by
// every kind of break (an empty entry, a gap, a repeated frame, the frame of the line before —
// the run goes on from the entry before, not from an older one —, other permissions, a
// non-present entry with address bits, a carry out of ADDR). Loaded whole and unloaded whole, the
// frames referenced must be exactly the full scan's.
TEST(ReachIndex, CountsWholeLinesOfLeavesLikeTheFullScan) {
  Audit a;
  const auto [root, ctx, l2] = three_levels(a);
  const PhysAddr leaves = alloc(a.mem);
  a.index.sync(true, root);

  // The run crosses one of FrameRefs' 4 MiB chunks; in the carry case the break is the highest
  // leaf plus 4 KiB (ADDR wrapped to frame 0, bit 52 set): it and the entries after it name frames
  // 0, 1, ..., every entry before it lies beyond memory.
  constexpr std::uint64_t kBase = 3 * 1024 - 200;  // pfn of entry 0
  const std::uint64_t highest = sl_leaf(0x000F'FFFF'FFFF'F000, 12, kRW);
  constexpr std::uint64_t kWindow = kBase + 512 + 8;  // every frame any table below can name
  enum Break : unsigned { kEmpty, kGap, kRepeat, kEarlier, kPerms, kNotPresent, kCarry, kBreaks };
  const auto table = [&](unsigned at, unsigned how) {
    std::vector<std::uint64_t> t(512);
    for (unsigned i = 0; i < 512; ++i) {
      if (how == kCarry) {
        t[i] = highest + (static_cast<std::uint64_t>(i) + 1 - at) * vtd::kPageSize;
        continue;
      }
      std::uint64_t pfn = kBase + i + (how == kGap && i >= at ? 1 : 0);
      if (how == kRepeat && i == at) --pfn;
      if (how == kEarlier && i == at) pfn -= at >= 8 ? 8 : 0;  // the frame of the line before
      t[i] = sl_leaf(pfn << 12, 12, how == kPerms && i == at ? kR : kRW);
      if (i == at && how == kEmpty) t[i] = 0;
      if (i == at && how == kNotPresent) t[i] = pfn << 12;
    }
    return t;
  };
  const auto check = [&](const char* what, unsigned at, unsigned how) {
    a.index.sync(true, root);
    std::vector<bool> expect(kWindow, false);
    for (const auto& [p, n] : a.full_scan(true, root)) {
      for (std::uint64_t f = p >> 12; f < std::min(kWindow, (p + n) >> 12); ++f) expect[f] = true;
    }
    for (std::uint64_t f = 0; f < kWindow; ++f) {
      ASSERT_EQ(a.refs.any(f << 12, vtd::kPageSize), expect[f])
          << what << ": frame " << f << ", break " << how << " at entry " << at;
    }
  };
  std::vector<unsigned> breaks;
  for (const unsigned line : {0u, 1u, 2u, 31u, 62u, 63u}) {
    for (unsigned slot = 0; slot < 8; ++slot) breaks.push_back(8 * line + slot);
  }
  std::size_t frame0 = 0;
  for (unsigned how = 0; how < kBreaks; ++how) {
    for (const unsigned at : breaks) {
      const std::vector<std::uint64_t> t = table(at, how);
      a.mem.write(leaves, t.data(), vtd::kPageSize);
      a.mem.write64(l2 + 8 * 7, sl_table_entry(leaves));  // loaded whole
      check("linked", at, how);
      if (HasFatalFailure()) return;
      frame0 += a.refs.any(0, vtd::kPageSize) ? 1 : 0;
      a.mem.write64(l2 + 8 * 7, 0);  // unloaded whole
      check("unlinked", at, how);
      if (HasFatalFailure()) return;
    }
  }
  EXPECT_EQ(frame0, breaks.size());  // the carry named frame 0 wherever it was
}

TEST(FrameRefs, SuperpageReferencesCoverTheirWholeRange) {
  FrameRefs r(kMem);
  r.add(4 * kMiB, 21);
  EXPECT_TRUE(r.any(4 * kMiB + 0x1F'F000, vtd::kPageSize));
  EXPECT_FALSE(r.any(6 * kMiB, vtd::kPageSize));
  EXPECT_TRUE(r.any(0, 8 * kMiB));  // a large free overlapping it
  r.remove(4 * kMiB, 21);
  EXPECT_FALSE(r.any(0, kMem));
  r.add(kMem + 4096, 12);  // outside memory: never freed, not counted
  EXPECT_FALSE(r.any(0, kMem));
}

}  // namespace
}  // namespace kniommu::hw::test
