// The structure walk of the emulated unit: root entry -> context entry -> second-level tables,
// reading the bytes the driver wrote into simulated memory. Every field is decoded through the
// shared layouts (vtd/formats.h, vtd/entries.h); the reserved-bit masks are derived from those
// layouts plus the configuration once, per level, at construction (QEMU vtd_spte_rsvd[] style).
// Functions return a Fault and never record anything: the caller decides (FPD, qualified faults).
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "hw/caches.h"
#include "hw/fault_reason.h"
#include "hw/sim_phys_mem.h"
#include "hw/unit_config.h"
#include "vtd/address_math.h"
#include "vtd/layout.h"
#include "vtd/phys_mem.h"
#include "vtd/sl_fields.h"

namespace kniommu::hw {

struct WalkResult {
  PhysAddr page_pa = 0;      // base of the leaf's (super)page
  unsigned shift = 12;       // 12, 21 or 30
  std::uint8_t perms = 0;    // R/W ANDed over every level
  bool not_present = false;  // the fault came from an entry with R = W = 0 (CM=1 may cache it)
};

class Walker {
 public:
  Walker(const UnitConfig& config, const SimPhysMem& mem);

  // Root and context entry for `sid` under the root table at `rta`. On kContextNotPresent,
  // `out->fpd` holds the entry's FPD (QEMU honours FPD even when P=0).
  Fault fetch_context(PhysAddr rta, std::uint16_t sid, ContextInfo* out) const;

  // Second-level walk of `iova` for an access needing `need` (kPermRead / kPermWrite). `psc` may
  // be null; when given, the walk starts from the deepest cached non-leaf entry and caches the
  // non-leaf entries it reads. Address-width check included. Inline (below): it is the IOTLB miss
  // path, and inlined into the unit's request its result stays in registers.
  [[gnu::always_inline]] Fault walk(const ContextInfo& ctx, std::uint64_t iova, std::uint8_t need,
                                    PagingStructureCache* psc, WalkResult* out) const;

  // Input address width of a context: min(MGAW, AGAW), AGAW = 30 + 9 * AW (VT-d spec §9.3, AW).
  unsigned input_width(const ContextInfo& ctx) const {
    const unsigned agaw = 30 + 9 * (ctx.levels - 2u);
    return agaw < config_.mgaw ? agaw : config_.mgaw;
  }

  // Calls visit(pa, len) for every frame range a present entry reachable from `rta` references:
  // context tables, SL tables and leaf pages. Each table is visited once, so a malformed tree
  // cannot make this blow up. The full scan that the unit's incremental use-after-free audit
  // (reach_index.h) must agree with.
  void for_each_reachable(PhysAddr rta,
                          const std::function<void(PhysAddr, std::uint64_t)>& visit) const;

  // What one entry of a structure references, decoded as the walk would (shared by the full scan
  // and the incremental audit). A valid root entry: its context table.
  bool root_context_table(const vtd::layout::Words<2>& w, PhysAddr* context_table) const;
  // A valid context entry that translates (not pass-through): its top table and depth.
  bool context_top_table(const vtd::layout::Words<2>& w, PhysAddr* table, unsigned* levels) const;
  // A present second-level entry at `level`: a leaf's range (leaf, pa, shift) or the next table.
  struct SlRef {
    bool present = false;
    bool leaf = false;
    PhysAddr pa = 0;
    unsigned shift = 12;
  };
  SlRef sl_ref(unsigned level, std::uint64_t pte) const;
  // A table the walk can read (below HAW and inside memory).
  bool table_readable(PhysAddr table) const { return readable(table, 4096); }

 private:
  // Checks of a root entry and decoding of a context entry already read from memory.
  Fault check_root(const vtd::layout::Words<2>& w) const;
  Fault decode_context(const vtd::layout::Words<2>& w, ContextInfo* out) const;
  bool readable(PhysAddr pa, std::uint64_t len) const;
  // A root or context entry as memory holds it (SimPhysMem::read64_memory: ECAP.C = 0 skips the
  // CPU cache).
  vtd::layout::Words<2> read_entry128(PhysAddr pa) const;
  std::uint64_t haw_bits(std::uint64_t field_mask) const;
  // Entry `idx` of the second-level table at `table` when the table is not the one remembered
  // for `level`; ok false when the entry is not readable (beyond HAW or memory). The table's
  // frame becomes the level's remembered one when it has a host pointer. Returned by value, not
  // through a pointer: an out-parameter made the walk store each entry to the stack and load it
  // back, a store-forwarding round trip in the walk's dependency chain.
  struct SlRead {
    bool ok = false;
    std::uint64_t pte = 0;
  };
  SlRead read_sl_entry(PhysAddr table, unsigned level, unsigned idx) const;
  // The walk below a cached non-leaf entry whose permissions lack some of `need`: the permission
  // fault the walk takes at `level` (or the unreadable entry there), as walk_at would report it.
  Fault fault_below_cached(std::uint64_t iova, std::uint8_t need, unsigned level, PhysAddr table,
                           WalkResult* out) const;
  // A walk that starts below a cached non-leaf entry (`psc` given; out of line).
  Fault walk_with_psc(const ContextInfo& ctx, std::uint64_t iova, std::uint8_t need,
                      PagingStructureCache* psc, WalkResult* out) const;
  // The walk from `level` / `table` with `perms` inherited from the levels above: one step per
  // level, unrolled (walk_at<level>), so every level's index shift, masks and remembered table
  // are at constant places instead of being computed from a loop counter.
  [[gnu::always_inline]] Fault walk_from(const ContextInfo& ctx, std::uint64_t iova,
                                         std::uint8_t need, PagingStructureCache* psc,
                                         unsigned level, PhysAddr table, std::uint64_t perms,
                                         WalkResult* out) const;
  template <unsigned kLevel>
  [[gnu::always_inline]] Fault walk_at(const ContextInfo& ctx, std::uint64_t iova,
                                       std::uint8_t need, PagingStructureCache* psc, PhysAddr table,
                                       std::uint64_t perms, WalkResult* out) const;

  const UnitConfig config_;
  const SimPhysMem& mem_;
  std::uint64_t root_rsvd_[2]{};
  std::uint64_t context_rsvd_[2]{};
  // What the walk needs to know about one level (1..5), computed once from the layouts and the
  // configuration (QEMU vtd_spte_rsvd[] style) and kept together, so a level's checks read one
  // cache line: reserved bits of a non-leaf entry and of a leaf, and which PS values make a leaf.
  struct LevelInfo {
    std::uint64_t table_rsvd = 0;
    std::uint64_t leaf_rsvd = 0;
    // PS when a set PS makes a leaf at this level (2 or 3, SLLPS advertising the size), else 0.
    std::uint64_t leaf_ps = 0;
  };
  std::array<LevelInfo, 6> levels_{};
  std::array<bool, 6> leaf_allowed_{};  // level 1 always; 2/3 when SLLPS advertises the size
  // The last table read at each level and its host pointer. `table` starts at an address no
  // table can have (tables are 4 KiB aligned), so a level with nothing remembered never matches.
  struct Hint {
    PhysAddr table = ~PhysAddr{0};
    const std::uint64_t* words = nullptr;
  };
  // Per level; the unit's lock serialises walks (the walker is not thread-safe on its own).
  mutable std::array<Hint, 6> hints_{};
};

[[gnu::always_inline]] inline Fault Walker::walk(const ContextInfo& ctx, std::uint64_t iova,
                                                 std::uint8_t need, PagingStructureCache* psc,
                                                 WalkResult* out) const {
  if ((iova & ctx.beyond_width) != 0) {
    *out = WalkResult{};
    return Fault::kBeyondAddressWidth;
  }
  if (psc != nullptr) return walk_with_psc(ctx, iova, need, psc, out);
  return walk_from(ctx, iova, need, nullptr, ctx.levels, ctx.slptptr,
                   vtd::sl_fields::kRead | vtd::sl_fields::kWrite, out);
}

[[gnu::always_inline]] inline Fault Walker::walk_from(const ContextInfo& ctx, std::uint64_t iova,
                                                      std::uint8_t need, PagingStructureCache* psc,
                                                      unsigned level, PhysAddr table,
                                                      std::uint64_t perms, WalkResult* out) const {
  switch (level) {
    case 5:
      return walk_at<5>(ctx, iova, need, psc, table, perms, out);
    case 4:
      return walk_at<4>(ctx, iova, need, psc, table, perms, out);
    case 3:
      return walk_at<3>(ctx, iova, need, psc, table, perms, out);
    case 2:
      return walk_at<2>(ctx, iova, need, psc, table, perms, out);
    default:
      return walk_at<1>(ctx, iova, need, psc, table, perms, out);
  }
}

template <unsigned kLevel>
[[gnu::always_inline]] inline Fault Walker::walk_at(const ContextInfo& ctx, std::uint64_t iova,
                                                    std::uint8_t need, PagingStructureCache* psc,
                                                    PhysAddr table, std::uint64_t perms,
                                                    WalkResult* out) const {
  namespace sl = vtd::sl_fields;
  static_assert(kLevel >= 1 && kLevel <= 5);
  constexpr unsigned kShift = vtd::level_shift(kLevel);
  const auto idx = static_cast<unsigned>((iova >> kShift) & 511);
  // The remembered table of this level is read in line: a walk is then a chain of plain loads.
  const Hint& h = hints_[kLevel];
  std::uint64_t pte = 0;
  if (h.table == table) [[likely]] {
    pte = vtd::load_entry(h.words, idx);
  } else {
    const SlRead r = read_sl_entry(table, kLevel, idx);
    if (!r.ok) {
      *out = WalkResult{};
      return kLevel == ctx.levels ? Fault::kContextInvalid : Fault::kNextTableInvalid;
    }
    pte = r.pte;
  }
  perms &= pte;  // R/W of a non-leaf entry gate everything below it (VT-d spec §9.8)
  const LevelInfo& li = levels_[kLevel];
  // Level 1 is always a leaf; levels 2 and 3 when PS is set and SLLPS advertises the size; above
  // that PS is a reserved bit (in table_rsvd), so the entry faults below.
  bool leaf = kLevel == 1;
  if constexpr (kLevel == 2 || kLevel == 3) leaf = (pte & li.leaf_ps) != 0;
  const std::uint64_t rsvd = leaf ? li.leaf_rsvd : li.table_rsvd;
  // Both faults of this level in one test: a needed R/W bit that is clear, or a reserved bit
  // that is set. The R/W bits are never reserved, so flipping the needed bits of the entry and
  // keeping the needed and the reserved ones is that test. The levels above passed it, so `pte`
  // lacking a needed bit is `perms` lacking it (a walk from a cached entry that lacks one does
  // not come here: fault_below_cached). The fault path then takes the faults in QEMU's
  // order: permission, then reserved bits.
  if (((pte ^ need) & (need | rsvd)) != 0) [[unlikely]] {
    *out = WalkResult{};
    if ((need & ~perms) != 0) {
      out->not_present = (pte & (sl::kRead | sl::kWrite)) == 0;
      return (need & kPermWrite) != 0 ? Fault::kNoWrite : Fault::kNoRead;
    }
    return Fault::kSlReserved;
  }
  if constexpr (kLevel <= 3) {
    if (leaf) {
      out->page_pa = pte & sl::kLeafAddr[kLevel];
      out->shift = kShift;
      out->perms = static_cast<std::uint8_t>(perms);
      out->not_present = false;
      return Fault::kNone;
    }
  }
  if constexpr (kLevel > 1) {
    const PhysAddr next = pte & sl::kTableAddr;
    if (psc != nullptr) {
      // Kept with the entry's address and value for the IH=1 protocol check.
      psc->insert(ctx.did, kLevel, iova,
                  PscEntry{next, static_cast<std::uint8_t>(perms), table + 8 * idx, pte});
    }
    return walk_at<kLevel - 1>(ctx, iova, need, psc, next, perms, out);
  } else {
    return Fault::kNone;  // not reached: level 1 is a leaf
  }
}

}  // namespace kniommu::hw
