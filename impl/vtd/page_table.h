// SecondLevelPageTable: one domain's VT-d legacy-mode second-level page table (3, 4 or 5 levels),
// built in physical memory through PhysMem so that the remapping unit can walk it.
//
// Semantics (docs/vtd-page-tables.md has the rationale):
// - map(iova, pa, size, perms) maps from empty only: if any page of the range is already mapped it
//   returns rcAlreadyExists and changes nothing (Linux refuses overmapping too). It uses 2 MiB and
//   1 GiB leaves wherever iova and pa are aligned, the range covers the whole page, and CAP.SLLPS
//   advertises the size. All table frames the call needs are allocated *before* the live table is
//   touched, so rcOutOfMemory (including an injected failpoint) leaves the table exactly as before
//   and hardware never sees a partial mapping.
// - unmap(iova, size, pending) removes every leaf that intersects the range. A superpage leaf that
//   is only partly inside the range is removed WHOLE (Linux and io-pgtable semantics: no split on
//   unmap, which would not be hitless); the pending record's range grows to cover it, so the caller
//   learns exactly what became unmapped. Tables left empty are unlinked from their parent; their
//   frames go into the pending record and are freed by complete() only after the caller's
//   invalidation (PSI with IH=0 or DSI, then a wait descriptor) has completed.
// - translate(iova) walks like the hardware: permission is the AND over all levels.
// - No exceptions; no heap allocation on map/unmap/translate; errors are Retcodes. Not thread-safe:
//   the caller serialises operations on one table (translate included: it caches host pointers).
// - Entries are read and written through host pointers to the table frames when PhysMem hands
//   them out (host_frames.h), else through read64/write64; both paths store one atomic 64-bit
//   word per entry of a linked table.
// - Table entries keep the count of present entries of their child table in ignored bits 61:52
//   (sl_format.h), so emptiness is known without scanning 512 entries.
#pragma once

#include <cstdint>

#include "kniommu/retcode.h"
#include "vtd/caps.h"
#include "vtd/host_frames.h"
#include "vtd/invalidation.h"
#include "vtd/phys_mem.h"
#include "vtd/sl_format.h"
#include "vtd/sl_masks.h"

namespace kniommu::vtd {

struct PageTableConfig {
  unsigned levels = 4;        // 3, 4 or 5
  unsigned input_width = 48;  // min(MGAW, width of `levels`): IOVAs must be below 2^input_width
  SlFormat format{};          // HAW, SC, DT, allowed superpage sizes
  // ECAP.C (VT-d spec §10.4.3). When false the unit does not snoop the CPU caches: every table
  // write is flushed (PhysMem::flush_cpu_cache) before map/unmap returns, so before the caller's
  // invalidation, and a new table is flushed whole before it is linked.
  bool coherent_walks = true;

  // The configuration a domain gets on a unit with these capabilities: the deepest supported table
  // that MGAW needs (select_levels), superpages as SLLPS allows. `haw` is the host address width.
  // levels == 0 when SAGAW offers no usable depth.
  static constexpr PageTableConfig from_caps(const CapReg& cap, const EcapReg& ecap, unsigned haw) {
    PageTableConfig c;
    c.levels = select_levels(cap);
    const unsigned w = width_for_levels(c.levels);
    c.input_width = cap.mgaw_bits() < w ? cap.mgaw_bits() : w;
    c.format =
        SlFormat{haw, ecap.sc() != 0, ecap.dt() != 0, cap.superpage_2m(), cap.superpage_1g()};
    c.coherent_walks = ecap.c() != 0;
    return c;
  }
};

// The walk state of one table (page_table.cpp).
struct TableWalk;

struct Translation {
  PhysAddr pa = 0;                  // physical address of the translated iova (offset included)
  std::uint64_t page_size = 0;      // size of the leaf: 4 KiB, 2 MiB or 1 GiB
  std::uint64_t page_iova = 0;      // iova of the leaf's first byte
  std::uint32_t perms = kPermNone;  // AND of R/W over every level
  unsigned level = 0;               // level of the leaf (1, 2 or 3)
};

class SecondLevelPageTable {
 public:
  SecondLevelPageTable(PhysMem& mem, const PageTableConfig& config);
  // Frees every table frame still linked in the tree. Frames waiting in pending records are not
  // known here: complete() those first. Destroy only after no context entry points at the table
  // any more and the domain's DID was invalidated.
  ~SecondLevelPageTable();
  SecondLevelPageTable(const SecondLevelPageTable&) = delete;
  SecondLevelPageTable& operator=(const SecondLevelPageTable&) = delete;

  // Allocates the top-level table. rcInvalidArgument for an unusable configuration.
  Retcode init();

  PhysAddr root() const { return root_; }
  // Context-entry AW for this table (levels - 2).
  std::uint64_t context_aw() const { return aw_for_levels(config_.levels); }
  const PageTableConfig& config() const { return config_; }
  const SlReservedMasks& reserved_masks() const { return masks_; }

  // See the header comment. Arguments: iova, pa and size 4 KiB aligned, size > 0, the range below
  // 2^input_width, pa + size below 2^HAW, perms a non-empty subset of R|W; else rcInvalidArgument.
  Retcode map(std::uint64_t iova, PhysAddr pa, std::uint64_t size, std::uint32_t perms);
  // See the header comment. Accumulates into `pending` (which may already hold earlier unmaps).
  // rcInvalidArgument for a misaligned or out-of-range request (nothing changes).
  Retcode unmap(std::uint64_t iova, std::uint64_t size, PendingInvalidation& pending);
  // Frees the table frames of `pending` and resets it. Call only after the invalidation covering
  // the record completed.
  void complete(PendingInvalidation& pending);
  // rcResourceNotFound when nothing maps iova.
  Retcode translate(std::uint64_t iova, Translation* out) const;

  // Table frames currently linked in the tree (root included); frames waiting in pending records
  // are counted by pending_frames().
  std::uint64_t table_frames() const { return live_frames_; }
  std::uint64_t pending_frames() const { return pending_frames_; }

  // Calls f(level, entry_pa, entry) for every present entry, parents before children. Test and
  // diagnostic use (reserved-bit audits).
  template <class Fn>
  void for_each_present_entry(Fn&& f) const {
    visit(root_, config_.levels, f);
  }

 private:
  enum class Pass { Plan, Install };
  struct MapState;
  struct UnmapState;

  // The walk of the root table over [iova, end).
  TableWalk root_walk(std::uint64_t iova, std::uint64_t end) const;
  Retcode map_level(MapState& s, TableWalk& w);
  Retcode map_leaf_run(MapState& s, TableWalk& w);
  // Whether the current slot of `w`, mapped to `pa`, can be one leaf of the slot's size.
  bool can_use_leaf(const TableWalk& w, PhysAddr pa) const;
  Retcode map_in_leaf_table(std::uint64_t iova, PhysAddr pa, std::uint64_t end,
                            std::uint32_t perms);
  void unmap_level(UnmapState& s, TableWalk& w);
  bool unmap_leaf_run(UnmapState& s, TableWalk& w);
  void release_table(UnmapState& s, PhysAddr table);
  void free_subtree(PhysAddr table, unsigned level);

  template <class Fn>
  void visit(PhysAddr table, unsigned level, Fn& f) const {
    for (unsigned i = 0; i < kEntriesPerTable; ++i) {
      const PhysAddr at = table + kEntryBytes * i;
      const std::uint64_t e = frames_.read(table, level, i);
      if (!VtdSsFormat::present(e)) continue;
      f(level, at, e);
      if (!VtdSsFormat::is_leaf(level, e)) visit(VtdSsFormat::table_addr(e), level - 1, f);
    }
  }

  PhysMem& mem_;
  HostFrames frames_;
  PageTableConfig config_;
  SlReservedMasks masks_;
  PhysAddr root_ = 0;
  unsigned root_count_ = 0;  // present entries of the root table (no parent entry to hold it)
  std::uint64_t live_frames_ = 0;
  std::uint64_t pending_frames_ = 0;
};

}  // namespace kniommu::vtd
