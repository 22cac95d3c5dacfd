#include "hw_view.h"

#include "coverage.h"
#include "coverage_counters.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <sstream>

namespace kniommu::conformance {
namespace {

constexpr uint32_t kRegCap = 0x08;
constexpr uint32_t kRegRtaddr = 0x20;
constexpr unsigned kCapSllpsShift = 34;  // CAP.SLLPS bits 37:34: bit 34 2 MiB, bit 35 1 GiB
constexpr uint64_t kAddrMask = 0x000FFFFFFFFFF000ull;  // bits 51:12 of every pointer/leaf
constexpr uint64_t kPresent = 0x1;
constexpr uint64_t kSlPerm = 0x3;                 // R|W: "present" for second-level entries
constexpr uint64_t kSlPs = 0x80;                  // page size (leaf at level 2/3)
constexpr unsigned kMaxTablesPerWalk = 1u << 16;  // guards against cyclic/corrupt tables

using Table = ViewCache::Table;

// Entry i of `t` is e0 plus i pages, for every i: two entries per step in 128-bit lanes (SSE2,
// which every x86-64 has), two independent accumulators, no branch per entry.
using Lanes = uint64_t __attribute__((vector_size(16)));
bool contiguous_from(const Table& t, uint64_t e0) {
  Lanes want_a = {e0, e0 + kPage}, want_b = {e0 + 2 * kPage, e0 + 3 * kPage};
  const Lanes step = {4 * kPage, 4 * kPage};
  Lanes differ_a = {0, 0}, differ_b = {0, 0};
  for (unsigned i = 0; i < 512; i += 4) {
    Lanes a, b;
    std::memcpy(&a, &t[i], sizeof a);
    std::memcpy(&b, &t[i + 2], sizeof b);
    differ_a |= a ^ want_a;
    differ_b |= b ^ want_b;
    want_a += step;
    want_b += step;
  }
  const Lanes differ = differ_a | differ_b;
  return (differ[0] | differ[1]) == 0;
}

// None of the eight entries of kStride words from t[first] has a bit of `mask` set in its first
// word. A fixed stride and two accumulators, so the eight loads are independent and the loop is
// unrolled (the loop with a run-time stride was 4 % of a conformance run's instructions).
template <unsigned kStride>
bool none_present(const Table& t, unsigned first, uint64_t mask) {
  uint64_t any[2] = {0, 0};
  for (unsigned k = 0; k < 8; k += 2) {
    any[0] |= t[first + k * kStride];
    any[1] |= t[first + (k + 1) * kStride];
  }
  return ((any[0] | any[1]) & mask) == 0;
}

// A table as the walk reads it: its bytes, and where the cache keeps them (null: not kept).
struct TableRead {
  const Table* t = nullptr;
  ViewCache::UpperTable* kept = nullptr;
};

// Bit g set: one of the eight entries of kStride words from t[8 * kStride * g] has a bit of `mask`
// set in its first word. Kept with the bytes (ViewCache::UpperTable), so a table reused at an
// unchanged generation costs a scan of its present groups only (an upper table holds a few
// present entries among 512; the full scan was 4 % of a conformance run's instructions).
template <unsigned kStride>
uint64_t present_groups(const TableRead& r, uint64_t mask) {
  constexpr uint8_t kFormat = kStride == 1 ? 1 : 2;
  static_assert(kStride == 1 || kStride == 2);
  if (r.kept != nullptr && r.kept->groups_of == kFormat) return r.kept->groups;
  uint64_t groups = 0;
  for (unsigned g = 0; g < 512 / (8 * kStride); ++g) {
    if (!none_present<kStride>(*r.t, g * 8 * kStride, mask)) groups |= uint64_t{1} << g;
  }
  if (r.kept != nullptr) {
    r.kept->groups = groups;
    r.kept->groups_of = kFormat;
  }
  return groups;
}

class Walker {
 public:
  Walker(const KnAdapterV1& api, KnAdapterSession* s, HwView& view, uint64_t sllps,
         ViewCache* cache)
      : api_(api),
        s_(s),
        view_(view),
        sllps_(sllps),
        cache_(cache),
        generations_(cache != nullptr && cache->generations() &&
                     api.phys_frame_generation != nullptr),
        verify_(cache != nullptr && cache->begin_view()) {}

  // A root, context or upper second-level table: the bytes kept at an unchanged generation, else
  // read (into `scratch` without a generation, else into the cache); null when unreadable. The
  // kept bytes stay where they are while the walk below uses them (unordered_map nodes do not
  // move); only a table reached again below itself at a changed generation (a write during the
  // view) is re-read in place.
  TableRead read_table(uint64_t pa, Table& scratch) {
    const uint64_t g = visit(pa);
    if (g == 0) return read_bytes(pa, scratch) ? TableRead{&scratch, nullptr} : TableRead{};
    ViewCache::UpperTable& kept = cache_->upper(pa);
    if (kept.generation == g && !verify_) {
      cache_->count_reused();
      return {&kept.bytes, &kept};
    }
    const bool vouched = kept.generation == g;
    kept.generation = 0;
    if (!read_bytes(pa, scratch)) return {};
    if (vouched && scratch != kept.bytes) changed_without_generation(pa);
    kept.bytes = scratch;
    kept.groups_of = 0;  // other bytes, maybe: found again by the walk that uses them
    kept.generation = g;
    return {&kept.bytes, &kept};
  }

  // Runs of the second-level table rooted at `root` with `levels` levels (memoized per root).
  const Runs& domain_runs(uint64_t root, unsigned levels) {
    auto key = std::make_pair(root, levels);
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    Runs runs;
    tables_ = 0;
    root_ = root;
    coverage::view_root(root);
    walk(root, levels, 0, kSlPerm, runs);
    return memo_.emplace(key, normalize(std::move(runs))).first->second;
  }

  void error(const char* what, uint64_t value) {
    std::ostringstream os;
    os << what << std::hex << value;
    view_.errors.push_back(os.str());
  }

 private:
  // Records the table page; its write generation when the cache may use it (0: read it).
  uint64_t visit(uint64_t pa) {
    view_.table_pages.push_back(pa);  // sorted and deduplicated once the view is complete
    return generations_ ? api_.phys_frame_generation(s_, pa) : 0;
  }

  bool read_bytes(uint64_t pa, Table& out) {
    if (api_.phys_read(s_, pa, out.data(), sizeof(Table)) != rcOk) {
      error("cannot read table at 0x", pa);
      return false;
    }
    return true;
  }

  // A verifying view found other bytes than those kept at the generation the frame still has:
  // the adapter's generations cannot be trusted, which fails the case.
  void changed_without_generation(uint64_t pa) {
    error("frame 0x", pa);
    view_.errors.back() += std::string(" ") + kChangedWithoutGeneration;
  }

  void walk(uint64_t table, unsigned level, uint64_t base, uint64_t perm, Runs& out) {
    if (++tables_ > kMaxTablesPerWalk) {
      error("second-level walk visits too many tables; last at 0x", table);
      return;
    }
    if (level == 1) return leaf_table(table, base, perm, out);
    Table scratch;
    const TableRead read = read_table(table, scratch);
    if (read.t == nullptr) return;
    const Table& t = *read.t;
    const unsigned shift = 12 + 9 * (level - 1);
    // Most entries of upper tables are not present: only the groups of 8 holding one are visited
    // (the mask is a copy, so a re-read of this table below itself cannot change the loop).
    for (uint64_t todo = present_groups<1>(read, kSlPerm); todo != 0; todo &= todo - 1) {
      const unsigned group = static_cast<unsigned>(std::countr_zero(todo));
      for (unsigned i = 8 * group; i < 8 * group + 8; ++i) {
        const uint64_t e = t[i];
        if ((e & kSlPerm) == 0) continue;  // not present: nothing below is reachable
        const uint64_t iova = base + (uint64_t{i} << shift);
        const uint64_t p = perm & e & kSlPerm;  // effective permission: AND over the walk
        const bool leaf = (e & kSlPs) != 0 && (level == 2 || level == 3);  // level 1: leaf_table
        if (leaf) {
          // A PS leaf of a size CAP.SLLPS does not advertise is a reserved-bit entry: hardware
          // faults on it (VT-d spec §9.8, §10.4.2).
          if ((sllps_ & (uint64_t{1} << (level - 2))) == 0) {
            error("superpage leaf of a size CAP.SLLPS does not advertise at iova 0x", iova);
            continue;
          }
          ++(level == 2 ? view_.leaves_2m : view_.leaves_1g);
          const uint64_t pages = uint64_t{1} << (9 * (level - 1));
          const uint64_t pa = e & kAddrMask & ~((pages * kPage) - 1);
          if (p != 0) out.push_back(Run{iova, pages, pa, static_cast<uint8_t>(p)});
          coverage::view_leaf(root_, iova, level);
        } else if (p != 0) {
          walk(e & kAddrMask, level - 1, iova, p, out);
        }
      }
    }
  }

  // A last-level table: every present entry is a 4 KiB leaf (VT-d spec §9.8); decoded once per
  // distinct content (ViewCache), not even read while its frame's generation is unchanged.
  void leaf_table(uint64_t table, uint64_t base, uint64_t perm, Runs& out) {
    const uint64_t g = visit(table);
    if (g != 0 && !verify_) {
      if (const ViewCache::LeafTable* known = cache_->find(table, g, base, perm)) {
        cache_->count_reused();
        return emit(*known, out);
      }
    }
    Table t;
    if (!read_bytes(table, t)) return;
    if (cache_ == nullptr) {
      ViewCache::LeafTable fresh;
      return emit(decode_leaf_table(t, base, perm, fresh), out);
    }
    if (ViewCache::LeafTable* kept = cache_->leaf(table); kept != nullptr) {
      if (g != 0 && kept->generation == g) {  // a verifying view: compared once, then reused
        if (!kept->decoded_from(t)) {
          changed_without_generation(table);
        } else if (const ViewCache::LeafTable* known = cache_->find(table, g, base, perm)) {
          return emit(*known, out);
        }
      }
      kept->generation = 0;  // until it is known again which bytes it holds
    }
    ViewCache::LeafTable* known = cache_->find(table, t, base, perm);
    ViewCache::LeafTable& d =
        known != nullptr ? *known : decode_leaf_table(t, base, perm, cache_->store(table));
    d.generation = g;
    emit(d, out);
  }

  static ViewCache::LeafTable& decode_leaf_table(const Table& t, uint64_t base, uint64_t perm,
                                                 ViewCache::LeafTable& d) {
    const bool one_run = contiguous(t);
    if (one_run) {
      d.bytes.reset();
    } else {
      if (d.bytes == nullptr) d.bytes = std::make_unique<Table>();
      *d.bytes = t;
    }
    d.first = t[0];
    d.base = base;
    d.perm_in = perm;
    d.runs.clear();
    auto leaves = std::make_shared<coverage::TableLeaves>();
    leaves->base = base;
    if (one_run) {  // the common shape of a 2 MiB grant: 512 present entries, one run
      leaves->present.fill(~uint64_t{0});
      leaves->count = 512;
      const uint64_t p = perm & t[0] & kSlPerm;
      if (p != 0) d.runs.push_back(Run{base, 512, t[0] & kAddrMask, static_cast<uint8_t>(p)});
      d.leaves = std::move(leaves);
      return d;
    }
    for (unsigned i = 0; i < 512; ++i) {
      const uint64_t e = t[i];
      if ((e & kSlPerm) == 0) continue;  // not present
      const uint64_t iova = base + (uint64_t{i} << 12);
      const uint64_t p = perm & e & kSlPerm;  // effective permission: AND over the walk
      leaves->present[i / 64] |= uint64_t{1} << (i % 64);
      ++leaves->count;
      if (p == 0) continue;
      const uint64_t pa = e & kAddrMask;
      Run* last = d.runs.empty() ? nullptr : &d.runs.back();
      if (last != nullptr && last->perm == p && last->iova + last->pages * kPage == iova &&
          last->pa + last->pages * kPage == pa)
        ++last->pages;  // what normalize() merges, merged while walking
      else
        d.runs.push_back(Run{iova, 1, pa, static_cast<uint8_t>(p)});
    }
    d.leaves = std::move(leaves);
    return d;
  }

  // Entry i is entry 0 plus i pages, entry 0 is present and its address field does not carry
  // out over the 511 pages: the loop above would find every entry present with entry 0's
  // permission and frame + i, i.e. one run of 512 pages. Checked without branches per entry.
  static bool contiguous(const Table& t) {
    const uint64_t e0 = t[0];
    if ((e0 & kSlPerm) == 0 || (e0 & kAddrMask) > kAddrMask - (uint64_t{511} << 12)) return false;
    return contiguous_from(t, e0);
  }

  void emit(const ViewCache::LeafTable& d, Runs& out) {
    auto first = d.runs.begin();
    if (first != d.runs.end() && !out.empty()) {  // continues the previous table's last run
      Run& last = out.back();
      if (last.perm == first->perm && last.iova + last.pages * kPage == first->iova &&
          last.pa + last.pages * kPage == first->pa) {
        last.pages += first->pages;  // what normalize() merges, merged while walking
        ++first;
      }
    }
    out.insert(out.end(), first, d.runs.end());
    coverage::view_leaf_table(root_, d.leaves);
  }

  const KnAdapterV1& api_;
  KnAdapterSession* s_;
  HwView& view_;
  uint64_t sllps_;
  ViewCache* cache_;
  const bool generations_;  // ask the adapter for frame write generations
  const bool verify_;       // read every table and check what the cache kept (ViewCache)
  std::map<std::pair<uint64_t, unsigned>, Runs> memo_;
  unsigned tables_ = 0;
  uint64_t root_ = 0;  // of the walk in progress, for the coverage hook
};

}  // namespace

bool ViewCache::LeafTable::decoded_from(const Table& t) const {
  return bytes != nullptr ? *bytes == t : contiguous_from(t, first);
}

ViewCache::LeafTable* ViewCache::find(uint64_t pa, const Table& bytes, uint64_t base,
                                      uint64_t perm_in) {
  const auto it = tables_.find(pa);
  LeafTable* d = it == tables_.end() ? nullptr : &it->second;
  const bool same =
      d != nullptr && d->base == base && d->perm_in == perm_in && d->decoded_from(bytes);
  ++(same ? hits_ : misses_);
  return same ? d : nullptr;
}

const ViewCache::LeafTable* ViewCache::find(uint64_t pa, uint64_t generation, uint64_t base,
                                            uint64_t perm_in) {
  const auto it = tables_.find(pa);
  const LeafTable* d = it == tables_.end() ? nullptr : &it->second;
  const bool same = d != nullptr && generation != 0 && d->generation == generation &&
                    d->base == base && d->perm_in == perm_in;
  if (same) ++hits_;  // a miss is counted by the find of the bytes that follows
  return same ? d : nullptr;
}

ViewCache::LeafTable* ViewCache::leaf(uint64_t pa) {
  const auto it = tables_.find(pa);
  return it == tables_.end() ? nullptr : &it->second;
}

ViewCache::LeafTable& ViewCache::store(uint64_t pa) { return tables_[pa]; }

bool ViewCache::begin_view() {
  const uint64_t n = ++views_;
  reused_before_view_ = reused_;
  if (verify_next_) {
    verify_next_ = false;
    return true;
  }
  // Powers of two up to the period (a short case is verified too), then every period-th view.
  return n <= kVerifyPeriod ? (n & (n - 1)) == 0 : n % kVerifyPeriod == 0;
}

namespace {

HwView walk_hw_view(const KnAdapterV1& api, KnAdapterSession* session, ViewCache* cache) {
  HwView view;
  const uint64_t rtaddr = api.read_reg64(session, kRegRtaddr);
  const uint64_t rta = rtaddr & kAddrMask;
  if (rta == 0) return view;  // no root table programmed: every request faults (0x1/0x2)
  Walker w(api, session, view, (api.read_reg64(session, kRegCap) >> kCapSllpsShift) & 0xF, cache);
  Table root_scratch;
  const TableRead root_read = w.read_table(rta, root_scratch);
  if (root_read.t == nullptr) return view;
  const Table& root = *root_read.t;
  // Root and context entries are 128 bits: groups of 8 entries with a present one only.
  for (uint64_t buses = present_groups<2>(root_read, kPresent); buses != 0; buses &= buses - 1) {
    const unsigned bus_group = static_cast<unsigned>(std::countr_zero(buses));
    for (unsigned bus = 8 * bus_group; bus < 8 * bus_group + 8; ++bus) {
      const uint64_t lo = root[2 * bus];
      if ((lo & kPresent) == 0) continue;
      Table ctx_scratch;
      const TableRead ctx_read = w.read_table(lo & kAddrMask, ctx_scratch);
      if (ctx_read.t == nullptr) continue;
      const Table& ctx = *ctx_read.t;
      for (uint64_t fns = present_groups<2>(ctx_read, kPresent); fns != 0; fns &= fns - 1) {
        const unsigned fn_group = static_cast<unsigned>(std::countr_zero(fns));
        for (unsigned devfn = 8 * fn_group; devfn < 8 * fn_group + 8; ++devfn) {
          const uint64_t clo = ctx[2 * devfn], chi = ctx[2 * devfn + 1];
          if ((clo & kPresent) == 0) continue;
          const uint16_t bdf = static_cast<uint16_t>((bus << 8) | devfn);
          const uint64_t tt = (clo >> 2) & 0x3;
          if (tt != 0) {
            w.error("context entry with TT != 00 (only translated DMA is used), bdf 0x", bdf);
            continue;
          }
          const unsigned aw = static_cast<unsigned>(chi & 0x7);
          if (aw < 1 || aw > 3) {
            w.error("context entry with AW outside 3..5 levels, bdf 0x", bdf);
            continue;
          }
          HwDevice d;
          d.did = static_cast<uint16_t>((chi >> 8) & 0xFFFF);
          d.root = clo & kAddrMask;
          d.levels = aw + 2;
          d.runs = w.domain_runs(d.root, d.levels);
          view.devices.emplace(bdf, std::move(d));
        }
      }
    }
  }
  return view;
}

}  // namespace

HwView read_hw_view(const KnAdapterV1& api, KnAdapterSession* session, ViewCache* cache) {
  HwView view = walk_hw_view(api, session, cache);
  std::vector<uint64_t>& pages = view.table_pages;
  std::sort(pages.begin(), pages.end());
  pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
  return view;
}

}  // namespace kniommu::conformance
