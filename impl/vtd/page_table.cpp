// The walker: generic level recursion over 512-entry tables. Every question about entry bits goes
// to the format policy (VtdSsFormat); this file only decides which slots to visit, when to allocate
// or release a table, and in which order to write.
#include "vtd/page_table.h"

#include <algorithm>

#include "common/failpoint.h"
#include "common/mutation.h"

namespace kniommu::vtd {

namespace {

using Fmt = VtdSsFormat;

constexpr std::uint64_t slot_start(std::uint64_t iova, unsigned level) {
  return iova & ~(level_size(level) - 1);
}
constexpr unsigned slot_index(std::uint64_t iova, unsigned level) {
  return static_cast<unsigned>(level_index<U64Ops>(iova, level));
}
constexpr bool page_aligned(std::uint64_t v) { return (v & (kPageSize - 1)) == 0; }

// Checks shared by map and unmap: 4 KiB granularity, non-empty, no wrap, below 2^width.
bool valid_range(std::uint64_t iova, std::uint64_t size, unsigned width) {
  if (size == 0 || !page_aligned(iova) || !page_aligned(size)) return false;
  if (iova + size < iova) return false;
  return width >= 64 || iova + size <= (std::uint64_t{1} << width);
}

}  // namespace

// Frames allocated up front for one map call, chained through their word 0 until used.
struct SecondLevelPageTable::MapState {
  std::uint64_t iova = 0;     // start of the request
  PhysAddr pa = 0;            // pa that `iova` maps to
  std::uint32_t perms = 0;
  std::uint64_t tables_needed = 0;  // counted by the plan pass
  PhysAddr pool = 0;                // chain of pre-allocated zeroed frames

  PhysAddr pa_of(std::uint64_t at) const { return pa + (at - iova); }
};

struct SecondLevelPageTable::UnmapState {
  PendingInvalidation& pending;
  std::uint64_t request_end;       // end of the whole unmap request
  bool cleared_superpage = false;  // for the SuperpageSplitLeavesMapped mutant
  bool stop = false;               // for the UnmapStopsAtTableBoundary mutant
};

SecondLevelPageTable::SecondLevelPageTable(PhysMem& mem, const PageTableConfig& config)
    : mem_(mem), config_(config), masks_(derive_sl_masks(config.format)) {}

SecondLevelPageTable::~SecondLevelPageTable() {
  if (root_ != 0) free_subtree(root_, config_.levels);
}

Retcode SecondLevelPageTable::init() {
  if (root_ != 0) return rcInvalidOperation;
  if (config_.levels < 3 || config_.levels > kMaxLevels) return rcInvalidArgument;
  if (config_.input_width == 0 || config_.input_width > width_for_levels(config_.levels)) {
    return rcInvalidArgument;
  }
  if (failpoint_hit()) return rcOutOfMemory;
  const Retcode rc = mem_.alloc_frame(&root_);
  if (rc != rcOk) {
    root_ = 0;
    return rc;
  }
  live_frames_ = 1;
  return rcOk;
}

bool SecondLevelPageTable::can_use_leaf(unsigned level, std::uint64_t iova, PhysAddr pa,
                                        std::uint64_t end) const {
  if (level == 1) return true;
  if (level > 3 || !masks_.leaf_allowed[level]) return false;
  const std::uint64_t size = level_size(level);
  return (iova & (size - 1)) == 0 && (pa & (size - 1)) == 0 && end - iova >= size;
}

// Plan pass (read-only): refuses overlap with an existing leaf and counts the tables the install
// pass will need. `table` == 0 stands for a table that does not exist yet (all entries empty).
// Install pass: writes leaves and new tables (each new table is filled before it is linked, so
// the hardware never walks a half-built subtree). *added: entries of `table` that became present.
Retcode SecondLevelPageTable::map_level(MapState& s, Pass pass, PhysAddr table, unsigned level,
                                        std::uint64_t iova, std::uint64_t end, unsigned* added) {
  for (unsigned idx = slot_index(iova, level); iova < end && idx < kEntriesPerTable; ++idx) {
    const std::uint64_t sub_end = std::min(end, slot_start(iova, level) + level_size(level));
    const PhysAddr at = table + 8 * idx;
    const std::uint64_t e = table != 0 ? mem_.read64(at) : 0;
    if (Fmt::present(e)) {
      if (Fmt::is_leaf(level, e)) return rcAlreadyExists;  // only reachable in the plan pass
      unsigned child_added = 0;
      const Retcode rc = map_level(s, pass, Fmt::table_addr(e), level - 1, iova, sub_end, &child_added);
      if (rc != rcOk) return rc;
      if (pass == Pass::Install && child_added != 0) {
        mem_.write64(at, Fmt::with_child_count(e, Fmt::child_count(e) + child_added));
      }
    } else if (can_use_leaf(level, iova, s.pa_of(iova), sub_end)) {
      if (pass == Pass::Install) {
        mem_.write64(at, Fmt::leaf_entry(level, s.pa_of(iova), s.perms));
        ++*added;
      }
    } else if (pass == Pass::Plan) {
      ++s.tables_needed;
      unsigned ignored = 0;
      const Retcode rc = map_level(s, pass, 0, level - 1, iova, sub_end, &ignored);
      if (rc != rcOk) return rc;
    } else {
      const PhysAddr child = s.pool;
      s.pool = mem_.read64(child);
      mem_.write64(child, 0);
      ++live_frames_;
      unsigned child_added = 0;
      const Retcode rc = map_level(s, pass, child, level - 1, iova, sub_end, &child_added);
      if (rc != rcOk) return rc;
      mem_.write64(at, Fmt::table_entry(child, child_added));
      ++*added;
    }
    iova = sub_end;
  }
  return rcOk;
}

Retcode SecondLevelPageTable::map(std::uint64_t iova, PhysAddr pa, std::uint64_t size,
                                  std::uint32_t perms) {
  if (root_ == 0) return rcNotReady;
  if (!valid_range(iova, size, config_.input_width) || !page_aligned(pa)) return rcInvalidArgument;
  if (perms == kPermNone || (perms & ~std::uint32_t{kPermReadWrite}) != 0) return rcInvalidArgument;
  if (pa + size < pa || !valid_range(pa, size, config_.format.haw)) return rcInvalidArgument;

  MapState s;
  s.iova = iova;
  s.pa = pa;
  s.perms = perms;
  const std::uint64_t end = iova + size;
  unsigned added = 0;
  Retcode rc = map_level(s, Pass::Plan, root_, config_.levels, iova, end, &added);
  if (rc != rcOk) return rc;

  // Every frame first, so that failure leaves the live table untouched.
  for (std::uint64_t i = 0; i < s.tables_needed; ++i) {
    PhysAddr frame = 0;
    rc = failpoint_hit() ? rcOutOfMemory : mem_.alloc_frame(&frame);
    if (rc != rcOk) {
      while (s.pool != 0) {
        const PhysAddr next = mem_.read64(s.pool);
        mem_.write64(s.pool, 0);
        mem_.free_frame(s.pool);
        s.pool = next;
      }
      return rc;
    }
    mem_.write64(frame, s.pool);
    s.pool = frame;
  }

  rc = map_level(s, Pass::Install, root_, config_.levels, iova, end, &added);
  root_count_ += added;
  return rc;  // cannot fail: the plan pass saw every conflict and the pool holds every frame
}

void SecondLevelPageTable::release_table(UnmapState& s, PhysAddr table) {
  --live_frames_;
  s.pending.mark_non_leaf();
  if (mutant(Mutant::TableFreedBeforeInvalidation)) {
    mem_.free_frame(table);  // the bug: hardware may still walk it through its caches
    return;
  }
  s.pending.push_frame(mem_, table);
  ++pending_frames_;
}

void SecondLevelPageTable::unmap_level(UnmapState& s, PhysAddr table, unsigned level,
                                       std::uint64_t iova, std::uint64_t end, unsigned* removed) {
  const std::uint64_t table_end = slot_start(iova, level + 1) + level_size(level + 1);
  bool cleared_leaf = false;
  for (unsigned idx = slot_index(iova, level); iova < end && idx < kEntriesPerTable && !s.stop; ++idx) {
    const std::uint64_t start = slot_start(iova, level);
    const std::uint64_t sub_end = std::min(end, start + level_size(level));
    const PhysAddr at = table + 8 * idx;
    const std::uint64_t e = mem_.read64(at);
    if (Fmt::present(e) && Fmt::is_leaf(level, e)) {
      const bool skip = level >= 2 && s.cleared_superpage && mutant(Mutant::SuperpageSplitLeavesMapped);
      if (!skip) {
        // Whole leaf, even when the range covers only part of a superpage (no split on unmap).
        mem_.write64(at, 0);
        ++*removed;
        cleared_leaf = true;
        s.pending.add_range(start, start + level_size(level) - 1);
        if (level >= 2) s.cleared_superpage = true;
      }
    } else if (Fmt::present(e)) {
      const PhysAddr child = Fmt::table_addr(e);
      unsigned child_removed = 0;
      unmap_level(s, child, level - 1, iova, sub_end, &child_removed);
      const unsigned left = Fmt::child_count(e) - child_removed;
      if (left == 0) {
        mem_.write64(at, 0);  // unlink first; the frame is freed after invalidation
        ++*removed;
        release_table(s, child);
      } else if (child_removed != 0) {
        mem_.write64(at, Fmt::with_child_count(e, left));
      }
    }
    iova = sub_end;
  }
  if (cleared_leaf && s.request_end > table_end && mutant(Mutant::UnmapStopsAtTableBoundary)) {
    s.stop = true;  // the Linux 2021 bug: the walk ends at the first table-page boundary
  }
}

Retcode SecondLevelPageTable::unmap(std::uint64_t iova, std::uint64_t size,
                                    PendingInvalidation& pending) {
  if (root_ == 0) return rcNotReady;
  if (!valid_range(iova, size, config_.input_width)) return rcInvalidArgument;
  UnmapState s{pending, iova + size};
  unsigned removed = 0;
  unmap_level(s, root_, config_.levels, iova, iova + size, &removed);
  root_count_ -= removed;
  return rcOk;
}

void SecondLevelPageTable::complete(PendingInvalidation& pending) {
  pending_frames_ -= pending.frame_count();
  PhysAddr frame = pending.take_frames();
  while (frame != 0) {
    const PhysAddr next = mem_.read64(frame);
    mem_.write64(frame, 0);
    mem_.free_frame(frame);
    frame = next;
  }
}

Retcode SecondLevelPageTable::translate(std::uint64_t iova, Translation* out) const {
  if (root_ == 0) return rcNotReady;
  if (config_.input_width < 64 && (iova >> config_.input_width) != 0) return rcInvalidArgument;
  PhysAddr table = root_;
  std::uint32_t perms = kPermReadWrite;
  for (unsigned level = config_.levels; level >= 1; --level) {
    const std::uint64_t e = mem_.read64(table + 8 * slot_index(iova, level));
    if (!Fmt::present(e)) return rcResourceNotFound;
    perms &= Fmt::perms(e);
    if (Fmt::is_leaf(level, e)) {
      const std::uint64_t size = level_size(level);
      out->page_size = size;
      out->page_iova = slot_start(iova, level);
      out->pa = Fmt::leaf_addr(level, e) + (iova & (size - 1));
      out->perms = perms;
      out->level = level;
      return rcOk;
    }
    table = Fmt::table_addr(e);
  }
  return rcResourceNotFound;  // unreachable: level 1 entries are leaves
}

void SecondLevelPageTable::free_subtree(PhysAddr table, unsigned level) {
  if (level > 1) {
    for (unsigned i = 0; i < kEntriesPerTable; ++i) {
      const std::uint64_t e = mem_.read64(table + 8 * i);
      if (Fmt::present(e) && !Fmt::is_leaf(level, e)) free_subtree(Fmt::table_addr(e), level - 1);
    }
  }
  mem_.free_frame(table);
}

}  // namespace kniommu::vtd
