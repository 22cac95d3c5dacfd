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
#include "vtd/layout.h"

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
  // non-leaf entries it reads. Address-width check included.
  Fault walk(const ContextInfo& ctx, std::uint64_t iova, std::uint8_t need,
             PagingStructureCache* psc, WalkResult* out) const;

  // Input address width of a context: min(MGAW, AGAW).
  unsigned input_width(const ContextInfo& ctx) const;

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
  // Entry `idx` of the second-level table at `table`; false when the entry is not readable (beyond
  // HAW or memory). Read through the frame's host pointer, the last one per level remembered, so
  // a walk is a chain of plain loads. SimPhysMem never moves or releases a materialised frame, so
  // a remembered pointer stays good (and its table stays readable).
  bool read_sl_entry(PhysAddr table, unsigned level, unsigned idx, std::uint64_t* pte) const;

  const UnitConfig config_;
  const SimPhysMem& mem_;
  std::uint64_t root_rsvd_[2]{};
  std::uint64_t context_rsvd_[2]{};
  // Indexed by level (1..5): reserved bits of a table entry and of a leaf at that level.
  std::array<std::uint64_t, 6> table_rsvd_{};
  std::array<std::uint64_t, 6> leaf_rsvd_{};
  std::array<bool, 6> leaf_allowed_{};  // level 1 always; 2/3 when SLLPS advertises the size
  struct Hint {
    PhysAddr table = 0;
    const std::uint64_t* words = nullptr;
  };
  // Per level; the unit's mutex serialises walks (the walker is not thread-safe on its own).
  mutable std::array<Hint, 6> hints_{};
};

}  // namespace kniommu::hw
