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
constexpr unsigned end_index_of(std::uint64_t iova, std::uint64_t end, unsigned level) {
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

}  // namespace

// The walk state of one table during map, unmap or translate (in the style of Linux generic_pt's
// struct pt_state): which table at which level, the slot the walk is at, the part of the request
// that lies in this table, and how many of the table's entries the walk changed. A table's
// emptiness has one representation, `present`: the count its parent entry keeps in its ignored
// bits (sl_format.h; root_count_ for the root), 0 for a table this map call has still to
// allocate or just allocated. A table with present == 0 holds only zero entries and is not read.
struct TableWalk {
  PhysAddr table = 0;      // 0: a table the plan pass has still to allocate
  unsigned level = 0;      // 1 (4 KiB leaves) .. levels
  unsigned present = 0;    // present entries of `table` when the walk entered it
  bool linked = true;      // reachable by hardware (false: allocated by this call, not linked yet)
  unsigned index = 0;      // the current slot
  std::uint64_t iova = 0;  // where the request continues, inside slot `index`
  std::uint64_t end = 0;   // end of the request's part inside this table (within its span)
  unsigned changed = 0;    // entries of `table` that became present (map) / not present (unmap)

  static constexpr TableWalk enter(PhysAddr t, unsigned lvl, unsigned present_entries,
                                   bool is_linked, std::uint64_t from, std::uint64_t to) {
    return TableWalk{.table = t,
                     .level = lvl,
                     .present = present_entries,
                     .linked = is_linked,
                     .index = slot_index(from, lvl),
                     .iova = from,
                     .end = to};
  }
  // `end` never lies beyond the table's span, so the walk is done exactly when iova reaches it.
  bool done() const { return iova >= end; }
  // One past the last slot [iova, end) touches.
  unsigned end_index() const { return end_index_of(iova, end, level); }
  std::uint64_t slot_size() const { return level_size(level); }
  std::uint64_t slot_base() const { return slot_start(iova, level); }
  // End of the request inside the current slot.
  std::uint64_t slot_end() const { return std::min(end, slot_base() + slot_size()); }
  // End of the address range this whole table translates.
  std::uint64_t table_span_end() const {
    return slot_start(iova, level + 1) + level_size(level + 1);
  }
  // Moves past `slots` slots (more than one only over a run of whole slots).
  void next(unsigned slots = 1) {
    iova = std::min(end, slot_base() + std::uint64_t{slots} * slot_size());
    index += slots;
  }
  // The walk of the current slot's child table.
  TableWalk child(PhysAddr child_table, unsigned child_present, bool child_linked) const {
    return enter(child_table, level - 1, child_present, child_linked, iova, slot_end());
  }
};

namespace {

// Reads the entries of one table front to back: through the frame's host pointer when PhysMem
// hands one out, else in chunks, one PhysMem call per chunk instead of one per entry (the
// interface is virtual and the simulated memory pays a lookup per call). A table with no present
// entry (not allocated yet, freshly allocated, an empty root) is not read at all.
class EntryReader {
 public:
  // buf_ is left uninitialised on purpose (see its declaration).
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
  EntryReader(const HostFrames& frames, const TableWalk& w)
      : mem_(frames.mem()),
        table_(w.table),
        empty_(w.present == 0),
        end_idx_(w.end_index()),
        words_(empty_ ? nullptr : frames.for_read(w.table, w.level)) {}
  std::uint64_t at(unsigned idx) {
    if (empty_) return 0;
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
  bool empty_;
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

// rcOk when none of entries [first, first + n) is present, else rcAlreadyExists. One branch for
// the whole run (the common case is all empty); two accumulators so two loads issue per cycle.
Retcode run_is_empty(const std::uint64_t* words, unsigned first, unsigned n) {
  const std::uint64_t* in = words + first;
  std::uint64_t any0 = 0, any1 = 0;
  unsigned i = 0;
  for (; i + 4 <= n; i += 4) {  // four loads per iteration: the loop overhead was a third
    any0 |= load_entry(in, i) | load_entry(in, i + 2);
    any1 |= load_entry(in, i + 1) | load_entry(in, i + 3);
  }
  for (; i < n; ++i) any0 |= load_entry(in, i);
  return Fmt::present(any0 | any1) ? rcAlreadyExists : rcOk;
}

// Stores n entries from slot `first` through a host pointer: e, e + step, ... (consecutive leaves
// differ only in the address field, by the page size, and pa + size < 2^HAW).
void store_run(std::uint64_t* words, unsigned first, unsigned n, std::uint64_t e,
               std::uint64_t step) {
  // Four stores per iteration with their values computed independently of each other (the
  // one-at-a-time loop was 4 instructions per entry: the atomic stores keep GCC from unrolling).
  std::uint64_t* out = words + first;
  const std::uint64_t step2 = 2 * step, step3 = 3 * step, step4 = 4 * step;
  unsigned i = 0;
  for (; i + 4 <= n; i += 4, e += step4) {
    store_entry(out, i, e);
    store_entry(out, i + 1, e + step);
    store_entry(out, i + 2, e + step2);
    store_entry(out, i + 3, e + step3);
  }
  for (; i < n; ++i, e += step) store_entry(out, i, e);
}

// Writes n consecutive leaves of `step` bytes from slot `first`, the first one being `e`.
void store_leaf_run(EntryWriter& out, unsigned first, unsigned n, std::uint64_t e,
                    std::uint64_t step) {
  if (std::uint64_t* words = out.words()) {
    store_run(words, first, n, e, step);
  } else {
    for (unsigned i = 0; i < n; ++i, e += step) out.put(first + i, e);
  }
}

}  // namespace

// One map call: the request, the pass, and the frames allocated up front for it (chained through
// their word 0 until used).
struct SecondLevelPageTable::MapState {
  std::uint64_t iova = 0;  // start of the request
  PhysAddr pa = 0;         // pa that `iova` maps to
  std::uint32_t perms = 0;
  Pass pass = Pass::Plan;
  std::uint64_t tables_needed = 0;  // counted by the plan pass
  PhysAddr pool = 0;                // chain of pre-allocated zeroed frames

  PhysAddr pa_of(std::uint64_t at) const { return pa + (at - iova); }
};

struct SecondLevelPageTable::UnmapState {
  PendingInvalidation& pending;
  std::uint64_t request_end = 0;  // end of the whole unmap request
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
  bool cleared_superpage = false;  // for the SuperpageSplitLeavesMapped mutant
  // For the UnmapStopsAtTableBoundary mutant: stop_after[l] says the level-l table being walked
  // had a leaf cleared while the request goes on past that table, so the walk ends after it.
  // One flag per level suffices: the walk is inside at most one table per level, and once it
  // stops it never enters another.
  bool stop_after[kMaxLevels + 1] = {};
  bool stop = false;
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

inline TableWalk SecondLevelPageTable::root_walk(std::uint64_t iova, std::uint64_t end) const {
  return TableWalk::enter(root_, config_.levels, root_count_, true, iova, end);
}

bool SecondLevelPageTable::can_use_leaf(const TableWalk& w, PhysAddr pa) const {
  if (w.level == 1) return true;
  // The mutant takes any 2 MiB / 1 GiB aligned run as a superpage, whatever CAP.SLLPS says.
  if (w.level > 3 || (!masks_.leaf_allowed[w.level] && !mutant(Mutant::SuperpageIgnoresSllps)))
    return false;
  const std::uint64_t size = w.slot_size();
  return (w.iova & (size - 1)) == 0 && (pa & (size - 1)) == 0 && w.slot_end() - w.iova >= size;
}

// Plan pass (read-only): refuses overlap with an existing leaf and counts the tables the install
// pass will need (a table still to allocate is walked with table 0). Install pass: writes leaves
// and new tables (each new table is filled before it is linked, so the hardware never walks a
// half-built subtree). w.changed: entries of w.table that became present.
Retcode SecondLevelPageTable::map_level(MapState& s, TableWalk& w) {
  if (w.level == 1) return map_leaf_run(s, w);
  EntryReader entries(frames_, w);
  EntryWriter out(frames_, w.table, !w.linked);
  while (!w.done()) {
    const std::uint64_t e = entries.at(w.index);
    if (Fmt::present(e)) {
      if (Fmt::is_leaf(w.level, e)) return rcAlreadyExists;  // only reachable in the plan pass
      TableWalk child = w.child(Fmt::table_addr(e), Fmt::child_count(e), true);
      const Retcode rc = map_level(s, child);
      if (rc != rcOk) return rc;
      if (s.pass == Pass::Install && child.changed != 0) {
        out.put(w.index, Fmt::with_child_count(e, Fmt::child_count(e) + child.changed));
      }
    } else if (can_use_leaf(w, s.pa_of(w.iova))) {
      // In a table with no present entry, every following slot that the range still covers whole
      // is a leaf too (iova and pa advance by the page size): handle the run in one go.
      const std::uint64_t size = w.slot_size();
      const unsigned run = w.present == 0 ? static_cast<unsigned>((w.end - w.iova) / size) : 1;
      if (s.pass == Pass::Install) {
        store_leaf_run(out, w.index, run, Fmt::leaf_entry(w.level, s.pa_of(w.iova), s.perms), size);
        w.changed += run;
      }
      w.next(run);
      continue;
    } else if (s.pass == Pass::Plan) {
      ++s.tables_needed;
      TableWalk child = w.child(0, 0, false);
      const Retcode rc = map_level(s, child);
      if (rc != rcOk) return rc;
    } else {
      const PhysAddr frame = s.pool;
      s.pool = mem_.read64(frame);
      mem_.write64(frame, 0);
      ++live_frames_;
      TableWalk child = w.child(frame, 0, false);
      const Retcode rc = map_level(s, child);
      if (rc != rcOk) return rc;
      out.put(w.index, Fmt::table_entry(frame, child.changed));  // filled and flushed: link it
      ++w.changed;
    }
    w.next();
  }
  out.flush();
  return rcOk;
}

// Level 1 holds only 4 KiB leaves, so a run of them needs no per-slot decisions: the plan pass
// only checks that every slot is empty, the install pass writes consecutive leaves.
Retcode SecondLevelPageTable::map_leaf_run(MapState& s, TableWalk& w) {
  const unsigned n = static_cast<unsigned>((w.end - w.iova) >> kPageShift);
  if (s.pass == Pass::Plan) {
    if (w.present == 0) return rcOk;  // a table still to allocate, or just allocated
    EntryReader entries(frames_, w);
    if (const std::uint64_t* words = entries.words()) return run_is_empty(words, w.index, n);
    for (unsigned i = 0; i < n; ++i) {
      if (Fmt::present(entries.at(w.index + i))) return rcAlreadyExists;
    }
    return rcOk;
  }
  // Install: the plan pass proved every slot empty.
  EntryWriter out(frames_, w.table, !w.linked);
  store_leaf_run(out, w.index, n, Fmt::leaf_entry(1, s.pa_of(w.iova), s.perms), kPageSize);
  out.flush();
  w.changed += n;
  return rcOk;
}

Retcode SecondLevelPageTable::map(std::uint64_t iova, PhysAddr pa, std::uint64_t size,
                                  std::uint32_t perms) {
  if (root_ == 0) return rcNotReady;
  if (!valid_range(iova, size, config_.input_width) || !page_aligned(pa)) return rcInvalidArgument;
  if (perms == kPermNone || (perms & ~std::uint32_t{kPermReadWrite}) != 0) return rcInvalidArgument;
  if (pa + size < pa || !valid_range(pa, size, config_.format.haw)) return rcInvalidArgument;

  const std::uint64_t end = iova + size;
  if (size < level_size(2) && slot_start(iova, 2) == slot_start(end - 1, 2)) {
    const Retcode fast = map_in_leaf_table(iova, pa, end, perms);
    if (fast != rcUnimplemented) return fast;
  }

  MapState s;
  s.iova = iova;
  s.pa = pa;
  s.perms = perms;
  TableWalk plan = root_walk(iova, end);
  Retcode rc = map_level(s, plan);
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

  s.pass = Pass::Install;
  TableWalk install = root_walk(iova, end);
  rc = map_level(s, install);
  root_count_ += install.changed;
  return rc;  // cannot fail: the plan pass saw every conflict and the pool holds every frame
}

// The common map of 4 KiB pages inside one leaf table, as the two passes would do it when every
// table on the way exists: one walk down to the leaf table, refuse an existing leaf, store the
// leaves, then raise the child count in the level-2 entry above it (software bits, hardware
// ignores them). Only 4 KiB leaves fit: the range is smaller than a 2 MiB slot. rcUnimplemented:
// a table is missing or has no host pointer; the caller takes the general path (nothing changed).
Retcode SecondLevelPageTable::map_in_leaf_table(std::uint64_t iova, PhysAddr pa, std::uint64_t end,
                                                std::uint32_t perms) {
  TableWalk w = root_walk(iova, end);
  PhysAddr parent_table = 0;  // the level-2 table, its slot and entry once the loop ends
  unsigned parent_index = 0;
  std::uint64_t parent_entry = 0;
  while (w.level >= 2) {
    const std::uint64_t* r = frames_.for_read(w.table, w.level);
    if (r == nullptr) return rcUnimplemented;
    const std::uint64_t e = load_entry(r, w.index);
    if (!Fmt::present(e)) return rcUnimplemented;  // a table to allocate
    if (Fmt::is_leaf(w.level, e)) return rcAlreadyExists;
    parent_table = w.table, parent_index = w.index, parent_entry = e;
    w = w.child(Fmt::table_addr(e), Fmt::child_count(e), true);
  }
  const unsigned n = static_cast<unsigned>((end - iova) >> kPageShift);
  const std::uint64_t* leaf_table = frames_.for_read(w.table, 1);
  if (leaf_table == nullptr) return rcUnimplemented;
  if (const Retcode rc = run_is_empty(leaf_table, w.index, n); rc != rcOk) return rc;
  // Both writable pointers first, so that a backend refusing one leaves the table untouched. Only
  // the leaf table gains entries, so only the level-2 entry's child count changes.
  std::uint64_t* leaf_out = frames_.for_write(w.table);
  std::uint64_t* parent_out = leaf_out == nullptr ? nullptr : frames_.for_write(parent_table);
  if (parent_out == nullptr) return rcUnimplemented;
  store_run(leaf_out, w.index, n, Fmt::leaf_entry(1, pa, perms), kPageSize);
  store_entry(parent_out, parent_index,
              Fmt::with_child_count(parent_entry, Fmt::child_count(parent_entry) + n));
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
bool SecondLevelPageTable::unmap_leaf_run(UnmapState& s, TableWalk& w) {
  const std::uint64_t* r = frames_.for_read(w.table, 1);
  if (r == nullptr) return false;
  // The first present entry, then one store per present entry from there on.
  const unsigned end_idx = w.end_index();
  unsigned idx = w.index;
  while (idx < end_idx && !Fmt::present(load_entry(r, idx))) ++idx;
  if (idx == end_idx) return true;
  std::uint64_t* out = frames_.for_write(w.table);
  if (out == nullptr) return false;  // none cleared yet
  const unsigned lo = idx;
  unsigned hi = idx, n = 0;
  const auto clear_if_present = [&](unsigned i) {
    if (!Fmt::present(load_entry(r, i))) return;
    store_entry(out, i, 0);
    hi = i, ++n;
  };
  // Blocks of 8 entries that are all present (a buffer's leaf table, the common case) take 8 loads
  // and 8 stores with one branch; a block with a hole, and the tail, go entry by entry. All 8 are
  // loaded before any is stored (`r` and `out` may be the same host frame).
  constexpr unsigned kBlock = 8;
  for (; idx + kBlock <= end_idx; idx += kBlock) {
    bool all_present = true;
#pragma GCC unroll 8
    for (unsigned k = 0; k < kBlock; ++k) all_present &= Fmt::present(load_entry(r, idx + k));
    if (!all_present) {
      for (unsigned k = 0; k < kBlock; ++k) clear_if_present(idx + k);
      continue;
    }
#pragma GCC unroll 8
    for (unsigned k = 0; k < kBlock; ++k) store_entry(out, idx + k, 0);
    hi = idx + kBlock - 1, n += kBlock;
  }
  for (; idx < end_idx; ++idx) clear_if_present(idx);
  w.changed += n;
  const std::uint64_t base = slot_start(w.iova, 2);
  s.pending.add_range(base + std::uint64_t{lo} * kPageSize,
                      base + std::uint64_t{hi + 1} * kPageSize - 1);
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
  if (s.request_end > w.table_span_end() && mutant(Mutant::UnmapStopsAtTableBoundary)) {
    s.stop = true;  // the Linux 2021 bug: the walk ends at the first table-page boundary
  }
#endif
  return true;
}

// Clears the request's part of w.table; w.changed receives how many of its entries became not
// present.
void SecondLevelPageTable::unmap_level(UnmapState& s, TableWalk& w) {
  if (w.level == 1 && unmap_leaf_run(s, w)) return;
  EntryReader entries(frames_, w);
  EntryWriter out(frames_, w.table, false);
  for (; !w.done() && !s.stopped(); w.next()) {
    const std::uint64_t e = entries.at(w.index);
    if (Fmt::present(e) && Fmt::is_leaf(w.level, e)) {
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
      const bool skip =
          w.level >= 2 && s.cleared_superpage && mutant(Mutant::SuperpageSplitLeavesMapped);
#else
      const bool skip = false;
#endif
      if (!skip) {
        // Whole leaf, even when the range covers only part of a superpage (no split on unmap).
        out.put(w.index, 0);
        ++w.changed;
        s.pending.add_range(w.slot_base(), w.slot_base() + w.slot_size() - 1);
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
        if (w.level >= 2) s.cleared_superpage = true;
        // w.iova is inside this table here, so table_span_end() is this table's end.
        if (s.request_end > w.table_span_end() && mutant(Mutant::UnmapStopsAtTableBoundary)) {
          s.stop_after[w.level] = true;
        }
#endif
      }
    } else if (Fmt::present(e)) {
      const PhysAddr child_table = Fmt::table_addr(e);
      TableWalk child = w.child(child_table, Fmt::child_count(e), true);
      unmap_level(s, child);
      const unsigned left = Fmt::child_count(e) - child.changed;
      if (left == 0) {
        out.put(w.index, 0);  // unlink first; the frame is freed after invalidation
        ++w.changed;
        release_table(s, child_table);
        out.reacquire();  // release_table may free a frame (a mutant does)
      } else if (child.changed != 0) {
        out.put(w.index, Fmt::with_child_count(e, left));
      }
    }
  }
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
  if (s.stop_after[w.level]) {
    s.stop = true;  // the Linux 2021 bug: the walk ends at the first table-page boundary
  }
#endif
}

Retcode SecondLevelPageTable::unmap(std::uint64_t iova, std::uint64_t size,
                                    PendingInvalidation& pending) {
  if (root_ == 0) return rcNotReady;
  if (!valid_range(iova, size, config_.input_width)) return rcInvalidArgument;
  UnmapState s{pending, iova + size};
  TableWalk w = root_walk(iova, iova + size);
  unmap_level(s, w);
  root_count_ -= w.changed;
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
  std::uint32_t perms = kPermReadWrite;
  for (TableWalk w = root_walk(iova, iova + 1);;) {
    const std::uint64_t e = frames_.read(w.table, w.level, w.index);
    if (!Fmt::present(e)) return rcResourceNotFound;
    perms &= Fmt::perms(e);
    if (Fmt::is_leaf(w.level, e)) {
      out->page_size = w.slot_size();
      out->page_iova = w.slot_base();
      out->pa = Fmt::leaf_addr(w.level, e) + (iova & (w.slot_size() - 1));
      out->perms = perms;
      out->level = w.level;
      return rcOk;
    }
    w = w.child(Fmt::table_addr(e), Fmt::child_count(e), true);  // level 1 entries are leaves
  }
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
