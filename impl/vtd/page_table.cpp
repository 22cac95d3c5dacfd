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
// One past the last index of the table at `level` that [iova, end) touches (end > iova).
constexpr unsigned end_index(std::uint64_t iova, std::uint64_t end, unsigned level) {
  const std::uint64_t span = (end - 1 - slot_start(iova, level)) >> level_shift(level);
  return static_cast<unsigned>(
      std::min<std::uint64_t>(kEntriesPerTable, slot_index(iova, level) + span + 1));
}
constexpr bool page_aligned(std::uint64_t v) { return (v & (kPageSize - 1)) == 0; }

// Checks shared by map and unmap: 4 KiB granularity, non-empty, no wrap, below 2^width.
bool valid_range(std::uint64_t iova, std::uint64_t size, unsigned width) {
  if (size == 0 || !page_aligned(iova) || !page_aligned(size)) return false;
  if (iova + size < iova) return false;
  return width >= 64 || iova + size <= (std::uint64_t{1} << width);
}

// Reads the entries of one table front to back: through the frame's host pointer when PhysMem
// hands one out, else in chunks, one PhysMem call per chunk instead of one per entry (the
// interface is virtual and the simulated memory pays a lookup per call). A table known to be all
// zero (not allocated yet, or freshly allocated) is not read at all.
class EntryCursor {
 public:
  // `end_idx`: one past the last index the caller will visit.
  // buf_ is left uninitialised on purpose (see its declaration).
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
  EntryCursor(const HostFrames& frames, PhysAddr table, unsigned level, bool known_empty,
              unsigned end_idx)
      : mem_(frames.mem()),
        table_(table),
        known_empty_(known_empty),
        end_idx_(end_idx),
        words_(known_empty ? nullptr : frames.for_read(table, level)) {}
  std::uint64_t at(unsigned idx) {
    if (known_empty_) return 0;
    if (words_ != nullptr) return load_entry(words_, idx);
    if (idx == end_idx_ - 1 && (idx < base_ || idx >= base_ + kChunk)) {
      return mem_.read64(table_ + 8 * std::uint64_t{idx});  // a lone entry: no bulk read
    }
    if (idx < base_ || idx >= base_ + kChunk) {
      base_ = idx;
      const unsigned n = std::min(kChunk, end_idx_ - idx);
      mem_.read(table_ + 8 * std::uint64_t{idx}, buf_, 8 * std::size_t{n});
    }
    return buf_[idx - base_];
  }
  // Host pointer of the table, nullptr when there is none (or the table is known empty).
  const std::uint64_t* words() const { return words_; }

 private:
  static constexpr unsigned kChunk = 32;  // 256 bytes of stack per level
  const PhysMem& mem_;
  PhysAddr table_;
  bool known_empty_;
  unsigned end_idx_;
  const std::uint64_t* words_;
  unsigned base_ = kEntriesPerTable;  // nothing loaded
  std::uint64_t buf_[kChunk];         // filled before use; not zeroed (per-call cost)
};

// Stores entries into one table, one atomic 64-bit store per entry through the frame's host
// pointer when PhysMem hands one out (asked for at the first store, so a writer that stores
// nothing does not count as a write). Without a host pointer: a table this map call allocated
// and has not linked yet cannot be reached by the hardware, so its entries are gathered and
// stored in bulk (and must be flushed before the table is linked); a linked table gets one atomic
// write64 per entry, so a concurrent walker never sees a torn entry.
// For a unit that does not snoop the CPU caches there is never a host pointer (HostFrames), and
// flush() writes back the range put() stored to, or the whole frame of an unlinked table (its
// zeroing by the allocator is a CPU store too), before the caller links it or invalidates.
class EntryWriter {
 public:
  // buf_ is left uninitialised on purpose (see its declaration).
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
  EntryWriter(HostFrames& frames, PhysAddr table, bool unlinked)
      : frames_(frames), table_(table), unlinked_(unlinked) {}
  EntryWriter(const EntryWriter&) = delete;
  EntryWriter& operator=(const EntryWriter&) = delete;
  ~EntryWriter() { flush(); }

  // The table's host pointer for stores (nullptr: none, use put()).
  std::uint64_t* words() {
    if (!resolved_) {
      words_ = frames_.for_write(table_);
      resolved_ = true;
    }
    return words_;
  }
  void put(unsigned idx, std::uint64_t value) {
    if (std::uint64_t* w = words()) {
      store_entry(w, idx, value);
      return;
    }
    lo_ = std::min(lo_, idx);
    hi_ = std::max(hi_, idx + 1);
    if (!unlinked_) {
      frames_.mem().write64(table_ + 8 * std::uint64_t{idx}, value);
      return;
    }
    if (n_ != 0 && (idx != base_ + n_ || n_ == kChunk)) flush();
    if (n_ == 0) base_ = idx;
    buf_[n_++] = value;
  }
  // Forgets the host pointer (to be asked for again at the next store): needed after a frame was
  // freed, since a writable pointer is only good until the next alloc/free call.
  void reacquire() { resolved_ = false; }
  void flush() {
    if (n_ != 0) frames_.mem().write(table_ + 8 * std::uint64_t{base_}, buf_, 8 * std::size_t{n_});
    n_ = 0;
    if (lo_ < hi_) {
      frames_.flush_written(table_, unlinked_ ? 0 : lo_, unlinked_ ? kEntriesPerTable : hi_);
      lo_ = kEntriesPerTable, hi_ = 0;
    }
  }

 private:
  static constexpr unsigned kChunk = 32;
  HostFrames& frames_;
  PhysAddr table_;
  bool unlinked_;
  bool resolved_ = false;
  std::uint64_t* words_ = nullptr;
  unsigned base_ = 0;
  unsigned n_ = 0;
  unsigned lo_ = kEntriesPerTable, hi_ = 0;  // entries put() stored without a host pointer
  std::uint64_t buf_[kChunk];  // filled before use; not zeroed (per-call cost)
};

}  // namespace

// Frames allocated up front for one map call, chained through their word 0 until used.
struct SecondLevelPageTable::MapState {
  std::uint64_t iova = 0;  // start of the request
  PhysAddr pa = 0;         // pa that `iova` maps to
  std::uint32_t perms = 0;
  std::uint64_t tables_needed = 0;  // counted by the plan pass
  PhysAddr pool = 0;                // chain of pre-allocated zeroed frames

  PhysAddr pa_of(std::uint64_t at) const { return pa + (at - iova); }
};

struct SecondLevelPageTable::UnmapState {
  PendingInvalidation& pending;
  std::uint64_t request_end = 0;   // end of the whole unmap request
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
  bool cleared_superpage = false;  // for the SuperpageSplitLeavesMapped mutant
  bool stop = false;               // for the UnmapStopsAtTableBoundary mutant
#endif
  // The UnmapStopsAtTableBoundary mutant ended the walk (never in production builds).
  bool stopped() const {
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
    return stop;
#else
    return false;
#endif
  }
};

SecondLevelPageTable::SecondLevelPageTable(PhysMem& mem, const PageTableConfig& config)
    : mem_(mem),
      frames_(mem, !config.coherent_walks),
      config_(config),
      masks_(derive_sl_masks(config.format)) {}

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
  frames_.flush_written(root_, 0, kEntriesPerTable);  // zeroed in memory before a context names it
  return rcOk;
}

bool SecondLevelPageTable::can_use_leaf(unsigned level, std::uint64_t iova, PhysAddr pa,
                                        std::uint64_t end) const {
  if (level == 1) return true;
  // The mutant takes any 2 MiB / 1 GiB aligned run as a superpage, whatever CAP.SLLPS says.
  if (level > 3 || (!masks_.leaf_allowed[level] && !mutant(Mutant::SuperpageIgnoresSllps)))
    return false;
  const std::uint64_t size = level_size(level);
  return (iova & (size - 1)) == 0 && (pa & (size - 1)) == 0 && end - iova >= size;
}

// Plan pass (read-only): refuses overlap with an existing leaf and counts the tables the install
// pass will need. `table` == 0 stands for a table that does not exist yet (all entries empty).
// Install pass: writes leaves and new tables (each new table is filled before it is linked, so
// the hardware never walks a half-built subtree). *added: entries of `table` that became present.
Retcode SecondLevelPageTable::map_level(MapState& s, Pass pass, PhysAddr table, bool known_empty,
                                        unsigned level, std::uint64_t iova, std::uint64_t end,
                                        unsigned* added) {
  if (level == 1) return map_leaf_run(s, pass, table, known_empty, iova, end, added);
  const unsigned first_idx = slot_index(iova, level);
  const unsigned end_idx = end_index(iova, end, level);
  const bool all_empty = known_empty || table == 0;
  EntryCursor entries(frames_, table, level, all_empty, end_idx);
  EntryWriter out(frames_, table, known_empty && pass == Pass::Install);
  for (unsigned idx = first_idx; iova < end && idx < end_idx; ++idx) {
    std::uint64_t sub_end = std::min(end, slot_start(iova, level) + level_size(level));
    const std::uint64_t e = entries.at(idx);
    if (Fmt::present(e)) {
      if (Fmt::is_leaf(level, e)) return rcAlreadyExists;  // only reachable in the plan pass
      unsigned child_added = 0;
      const Retcode rc =
          map_level(s, pass, Fmt::table_addr(e), false, level - 1, iova, sub_end, &child_added);
      if (rc != rcOk) return rc;
      if (pass == Pass::Install && child_added != 0) {
        out.put(idx, Fmt::with_child_count(e, Fmt::child_count(e) + child_added));
      }
    } else if (can_use_leaf(level, iova, s.pa_of(iova), sub_end)) {
      // In a table known to be empty, every following slot that the range still covers whole is
      // a leaf too (iova and pa advance by the page size): handle the run in one go.
      const std::uint64_t size = level_size(level);
      const unsigned run =
          all_empty
              ? static_cast<unsigned>(std::min<std::uint64_t>(end_idx - idx, (end - iova) / size))
              : 1;
      if (pass == Pass::Install) {
        if (std::uint64_t* w = out.words(); w != nullptr && run > 1) {
          // Consecutive leaves differ only in the address field, by `size` (pa + size < 2^HAW).
          std::uint64_t leaf = Fmt::leaf_entry(level, s.pa_of(iova), s.perms);
          for (unsigned r = 0; r < run; ++r, leaf += size) store_entry(w, idx + r, leaf);
        } else {
          for (unsigned r = 0; r < run; ++r) {
            out.put(idx + r, Fmt::leaf_entry(level, s.pa_of(iova) + r * size, s.perms));
          }
        }
        *added += run;
      }
      idx += run - 1;
      iova += std::uint64_t{run - 1} * size;
      sub_end = iova + size;
    } else if (pass == Pass::Plan) {
      ++s.tables_needed;
      unsigned ignored = 0;
      const Retcode rc = map_level(s, pass, 0, true, level - 1, iova, sub_end, &ignored);
      if (rc != rcOk) return rc;
    } else {
      const PhysAddr child = s.pool;
      s.pool = mem_.read64(child);
      mem_.write64(child, 0);
      ++live_frames_;
      unsigned child_added = 0;
      const Retcode rc = map_level(s, pass, child, true, level - 1, iova, sub_end, &child_added);
      if (rc != rcOk) return rc;
      out.put(idx, Fmt::table_entry(child, child_added));  // child filled and flushed: link it
      ++*added;
    }
    iova = sub_end;
  }
  out.flush();
  return rcOk;
}

// Level 1 holds only 4 KiB leaves, so a run of them needs no per-slot decisions: the plan pass
// only checks that every slot is empty, the install pass writes consecutive leaves.
// [iova, end) lies within the one leaf table `table`.
Retcode SecondLevelPageTable::map_leaf_run(MapState& s, Pass pass, PhysAddr table, bool known_empty,
                                           std::uint64_t iova, std::uint64_t end, unsigned* added) {
  const unsigned first = slot_index(iova, 1);
  const unsigned n = static_cast<unsigned>((end - iova) >> kPageShift);
  if (pass == Pass::Plan) {
    if (table == 0 || known_empty) return rcOk;  // a table that does not exist yet is empty
    EntryCursor entries(frames_, table, 1, false, first + n);
    if (const std::uint64_t* w = entries.words()) {
      // One branch for the whole run (the common case is all empty); two accumulators so two
      // loads issue per cycle.
      std::uint64_t any0 = 0, any1 = 0;
      unsigned i = 0;
      for (; i + 1 < n; i += 2) {
        any0 |= load_entry(w, first + i);
        any1 |= load_entry(w, first + i + 1);
      }
      if (i < n) any0 |= load_entry(w, first + i);
      return Fmt::present(any0 | any1) ? rcAlreadyExists : rcOk;
    }
    for (unsigned i = 0; i < n; ++i) {
      if (Fmt::present(entries.at(first + i))) return rcAlreadyExists;
    }
    return rcOk;
  }
  // Install: the plan pass proved every slot empty.
  EntryWriter out(frames_, table, known_empty);
  const PhysAddr pa = s.pa_of(iova);
  if (std::uint64_t* w = out.words()) {
    // Consecutive leaves differ only in the address field, by one page (pa + size < 2^HAW).
    std::uint64_t e = Fmt::leaf_entry(1, pa, s.perms);
    for (unsigned i = 0; i < n; ++i, e += kPageSize) store_entry(w, first + i, e);
  } else {
    for (unsigned i = 0; i < n; ++i) {
      out.put(first + i, Fmt::leaf_entry(1, pa + std::uint64_t{i} * kPageSize, s.perms));
    }
    out.flush();
  }
  *added += n;
  return rcOk;
}

Retcode SecondLevelPageTable::map(std::uint64_t iova, PhysAddr pa, std::uint64_t size,
                                  std::uint32_t perms) {
  if (root_ == 0) return rcNotReady;
  if (!valid_range(iova, size, config_.input_width) || !page_aligned(pa)) return rcInvalidArgument;
  if (perms == kPermNone || (perms & ~std::uint32_t{kPermReadWrite}) != 0) return rcInvalidArgument;
  if (pa + size < pa || !valid_range(pa, size, config_.format.haw)) return rcInvalidArgument;

  if (size == kPageSize) {
    const Retcode fast = map_one_page(iova, pa, perms);
    if (fast != rcUnimplemented) return fast;
  }

  MapState s;
  s.iova = iova;
  s.pa = pa;
  s.perms = perms;
  const std::uint64_t end = iova + size;
  unsigned added = 0;
  Retcode rc = map_level(s, Pass::Plan, root_, false, config_.levels, iova, end, &added);
  if (rc != rcOk) return rc;

  // Every frame first, so that failure leaves the live table untouched.
  for (std::uint64_t i = 0; i < s.tables_needed; ++i) {
    PhysAddr frame = 0;
    rc = failpoint_hit() ? rcOutOfMemory : mem_.alloc_frame(&frame);
    if (rc != rcOk) {
      while (s.pool != 0) {
        const PhysAddr next = mem_.read64(s.pool);
        mem_.write64(s.pool, 0);
        frames_.forget(s.pool);
        mem_.free_frame(s.pool);
        s.pool = next;
      }
      return rc;
    }
    mem_.write64(frame, s.pool);
    s.pool = frame;
  }

  rc = map_level(s, Pass::Install, root_, false, config_.levels, iova, end, &added);
  root_count_ += added;
  return rc;  // cannot fail: the plan pass saw every conflict and the pool holds every frame
}

// The common single-page map, as the two passes would do it when every table on the way exists:
// read down to the leaf table, refuse an existing leaf, store the leaf, then bump the child count
// in the level-2 entry above it (software bits, hardware ignores them). rcUnimplemented: a table
// is missing or has no host pointer; the caller takes the general path (nothing was changed).
Retcode SecondLevelPageTable::map_one_page(std::uint64_t iova, PhysAddr pa, std::uint32_t perms) {
  PhysAddr tables[kMaxLevels + 1] = {};
  std::uint64_t entries[kMaxLevels + 1] = {};
  PhysAddr table = root_;
  for (unsigned level = config_.levels; level >= 2; --level) {
    const std::uint64_t* r = frames_.for_read(table, level);
    if (r == nullptr) return rcUnimplemented;
    const std::uint64_t e = load_entry(r, slot_index(iova, level));
    if (!Fmt::present(e)) return rcUnimplemented;  // a table to allocate
    if (Fmt::is_leaf(level, e)) return rcAlreadyExists;
    tables[level] = table;
    entries[level] = e;
    table = Fmt::table_addr(e);
  }
  const std::uint64_t* leaf_table = frames_.for_read(table, 1);
  if (leaf_table == nullptr) return rcUnimplemented;
  if (Fmt::present(load_entry(leaf_table, slot_index(iova, 1)))) return rcAlreadyExists;
  // Both writable pointers first, so that a backend refusing one leaves the table untouched. Only
  // the leaf table gains an entry, so only the level-2 entry's child count changes.
  std::uint64_t* leaf_out = frames_.for_write(table);
  std::uint64_t* parent_out = leaf_out == nullptr ? nullptr : frames_.for_write(tables[2]);
  if (parent_out == nullptr) return rcUnimplemented;
  store_entry(leaf_out, slot_index(iova, 1), Fmt::leaf_entry(1, pa, perms));
  const std::uint64_t e = entries[2];
  store_entry(parent_out, slot_index(iova, 2), Fmt::with_child_count(e, Fmt::child_count(e) + 1));
  return rcOk;
}

void SecondLevelPageTable::release_table(UnmapState& s, PhysAddr table) {
  --live_frames_;
  s.pending.mark_non_leaf();
  if (mutant(Mutant::TableFreedBeforeInvalidation)) {
    frames_.forget(table);
    mem_.free_frame(table);  // the bug: hardware may still walk it through its caches
    return;
  }
  s.pending.push_frame(mem_, table);
  ++pending_frames_;
}

// Level 1 with a host pointer: every entry is a 4 KiB leaf, so the run is cleared in one loop and
// its range recorded once (the pending range is a union, so this equals one add_range per leaf).
// Returns false when there is no host pointer (the caller takes the per-entry path).
bool SecondLevelPageTable::unmap_leaf_run(UnmapState& s, PhysAddr table, std::uint64_t iova,
                                          unsigned end_idx, unsigned* removed) {
  const std::uint64_t* r = frames_.for_read(table, 1);
  if (r == nullptr) return false;
  const unsigned first = slot_index(iova, 1);
  std::uint64_t* w = nullptr;
  unsigned lo = end_idx, hi = 0, n = 0;
  for (unsigned idx = first; idx < end_idx; ++idx) {
    if (!Fmt::present(load_entry(r, idx))) continue;
    if (w == nullptr && (w = frames_.for_write(table)) == nullptr) return false;  // none cleared yet
    store_entry(w, idx, 0);
    lo = std::min(lo, idx), hi = idx, ++n;
  }
  if (n == 0) return true;
  *removed += n;
  const std::uint64_t base = slot_start(iova, 2);
  s.pending.add_range(base + std::uint64_t{lo} * kPageSize, base + std::uint64_t{hi + 1} * kPageSize - 1);
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
  const std::uint64_t table_end = base + level_size(2);
  if (s.request_end > table_end && mutant(Mutant::UnmapStopsAtTableBoundary)) {
    s.stop = true;  // the Linux 2021 bug: the walk ends at the first table-page boundary
  }
#endif
  return true;
}

void SecondLevelPageTable::unmap_level(UnmapState& s, PhysAddr table, unsigned level,
                                       std::uint64_t iova, std::uint64_t end, unsigned* removed) {
  const std::uint64_t table_end = slot_start(iova, level + 1) + level_size(level + 1);
  bool cleared_leaf = false;
  const unsigned end_idx = end_index(iova, end, level);
  if (level == 1 && unmap_leaf_run(s, table, iova, end_idx, removed)) return;
  EntryCursor entries(frames_, table, level, false, end_idx);
  EntryWriter out(frames_, table, false);
  for (unsigned idx = slot_index(iova, level); iova < end && idx < end_idx && !s.stopped(); ++idx) {
    const std::uint64_t start = slot_start(iova, level);
    const std::uint64_t sub_end = std::min(end, start + level_size(level));
    const std::uint64_t e = entries.at(idx);
    if (Fmt::present(e) && Fmt::is_leaf(level, e)) {
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
      const bool skip =
          level >= 2 && s.cleared_superpage && mutant(Mutant::SuperpageSplitLeavesMapped);
#else
      const bool skip = false;
#endif
      if (!skip) {
        // Whole leaf, even when the range covers only part of a superpage (no split on unmap).
        out.put(idx, 0);
        ++*removed;
        cleared_leaf = true;
        s.pending.add_range(start, start + level_size(level) - 1);
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
        if (level >= 2) s.cleared_superpage = true;
#endif
      }
    } else if (Fmt::present(e)) {
      const PhysAddr child = Fmt::table_addr(e);
      unsigned child_removed = 0;
      unmap_level(s, child, level - 1, iova, sub_end, &child_removed);
      const unsigned left = Fmt::child_count(e) - child_removed;
      if (left == 0) {
        out.put(idx, 0);  // unlink first; the frame is freed after invalidation
        ++*removed;
        release_table(s, child);
        out.reacquire();  // release_table may free a frame (a mutant does)
      } else if (child_removed != 0) {
        out.put(idx, Fmt::with_child_count(e, left));
      }
    }
    iova = sub_end;
  }
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
  if (cleared_leaf && s.request_end > table_end && mutant(Mutant::UnmapStopsAtTableBoundary)) {
    s.stop = true;  // the Linux 2021 bug: the walk ends at the first table-page boundary
  }
#else
  (void)cleared_leaf;
  (void)table_end;
#endif
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
    frames_.forget(frame);
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
    const std::uint64_t e = frames_.read(table, level, slot_index(iova, level));
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
      const std::uint64_t e = frames_.read(table, level, i);
      if (Fmt::present(e) && !Fmt::is_leaf(level, e)) free_subtree(Fmt::table_addr(e), level - 1);
    }
  }
  frames_.forget(table);
  mem_.free_frame(table);
}

}  // namespace kniommu::vtd
