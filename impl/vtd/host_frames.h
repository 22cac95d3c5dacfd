// Host pointers of a page table's own frames, as a kernel reaches its tables through the physical
// map instead of a call per entry. PhysMem::frame_for_read is a virtual call plus the backend's
// frame lookup; a small direct-mapped cache of the pointers it handed out makes a walk a chain of
// plain loads. A writable pointer is reused only while the memory's write_epoch() is unchanged
// (the backend may track writes through them, see PhysMem). A frame the backend cannot hand out
// (nullptr) is simply not cached: the caller then uses read64/write64.
//
// The owner must call forget(frame) whenever one of its frames is freed (a read pointer is only
// valid while the frame stays allocated). Not thread-safe, like the page table that owns it.
//
// For a unit that does not snoop the CPU caches (ECAP.C = 0) the owner flushes what it writes
// (flush_written). Then no writable pointer is handed out at all, so that every store goes through
// a path that knows which entries it wrote (the page table's EntryWriter).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "vtd/phys_mem.h"

namespace kniommu::vtd {

class HostFrames {
 public:
  explicit HostFrames(PhysMem& mem, bool flush_writes = false)
      : mem_(mem), flush_writes_(flush_writes) {}

  PhysMem& mem() const { return mem_; }

  const std::uint64_t* for_read(PhysAddr table) const {
    Slot& s = slots_[(table >> kPageShift) & (kSlots - 1)];
    if (s.words != nullptr && s.table == table) return s.words;
    const std::uint64_t* w = mem_.frame_for_read(table);
    if (w != nullptr) s = Slot{table, w, nullptr, 0};
    return w;
  }
  // The same, remembering the last table used at `level` (1..5) as well: that pointer is loaded
  // independently of the entry that names the table, so on a hit a walk's dependency chain is just
  // one load per level.
  const std::uint64_t* for_read(PhysAddr table, unsigned level) const {
    Slot& h = by_level_[level];
    if (h.words != nullptr && h.table == table) return h.words;
    const std::uint64_t* w = for_read(table);
    if (w != nullptr) h = Slot{table, w, nullptr, 0};
    return w;
  }
  std::uint64_t* for_write(PhysAddr table) {
    if (flush_writes_) return nullptr;
    Slot& s = slots_[(table >> kPageShift) & (kSlots - 1)];
    const std::uint64_t epoch = mem_.write_epoch();
    if (s.writable != nullptr && s.table == table && s.epoch == epoch) return s.writable;
    std::uint64_t* w = mem_.frame_for_write(table);
    if (w != nullptr) s = Slot{table, w, w, epoch};
    return w;
  }
  // Entry `idx` of `table` (at `level`), through the host pointer when there is one.
  std::uint64_t read(PhysAddr table, unsigned level, unsigned idx) const {
    if (const std::uint64_t* w = for_read(table, level)) return load_entry(w, idx);
    return mem_.read64(table + 8 * std::uint64_t{idx});
  }
  // Entries [first, end) of `table` were written: on a non-snooping unit, flush them from the CPU
  // cache (the caller does so before anything makes the unit look at them).
  void flush_written(PhysAddr table, unsigned first, unsigned end) const {
    if (flush_writes_ && first < end) {
      mem_.flush_cpu_cache(table + 8 * std::uint64_t{first}, 8 * std::size_t{end - first});
    }
  }
  // Drops the pointer of `table`, about to be freed.
  void forget(PhysAddr table) {
    Slot& s = slots_[(table >> kPageShift) & (kSlots - 1)];
    if (s.table == table) s = Slot{};
    for (Slot& h : by_level_) {
      if (h.table == table) h = Slot{};
    }
  }

 private:
  struct Slot {
    PhysAddr table = 0;
    const std::uint64_t* words = nullptr;
    std::uint64_t* writable = nullptr;  // set when handed out for writing at `epoch`
    std::uint64_t epoch = 0;
  };
  static constexpr std::size_t kSlots = 64;  // a 4-level walk over a few GiB stays resident
  PhysMem& mem_;
  bool flush_writes_;
  mutable std::array<Slot, kSlots> slots_{};
  mutable std::array<Slot, 6> by_level_{};  // indexed by level
};

}  // namespace kniommu::vtd
