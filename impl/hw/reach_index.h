// The live half of the remapping unit's incremental use-after-free audit: what the structures
// reachable from the root table reference, kept as reference counts (FrameRefs) instead of being
// rescanned on every free (Walker::for_each_reachable is the full scan it must agree with).
//
// Every reachable structure (the root table, context tables, second-level tables per level) is a
// node holding a copy of its entries and the number of present entries that reference it. Its
// frame is write-watched in SimPhysMem; sync() re-reads only the 64-byte lines written since the
// last sync (whoever wrote them: the driver through write64 or a host pointer, or a device's DMA)
// and applies the entries that changed: a new reference adds a count (and loads a table reached for
// the first time), a dropped one removes it (and unloads a table nothing references any more).
// The structures form a DAG (root -> context -> levels going down), so counting is exact.
// Not thread-safe: the unit's mutex guards it.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "hw/frame_refs.h"
#include "hw/sim_phys_mem.h"
#include "hw/walker.h"

namespace kniommu::hw {

class ReachIndex {
 public:
  ReachIndex(const Walker& walker, SimPhysMem& mem, FrameRefs& refs);
  ~ReachIndex();
  ReachIndex(const ReachIndex&) = delete;
  ReachIndex& operator=(const ReachIndex&) = delete;

  // Brings the counts up to date: `root_live` says whether the unit walks from the root table
  // `rta` (SRTP done, legacy mode); then every watched frame written since the last sync.
  void sync(bool root_live, PhysAddr rta);
  // Tables currently loaded (diagnostics and tests).
  std::size_t nodes() const { return nodes_.size(); }

 private:
  // Node kinds: the root table, a context table, a second-level table at level L (kind 1 + L).
  static constexpr unsigned kRoot = 0;
  static constexpr unsigned kContext = 1;
  static constexpr unsigned kKinds = 7;  // SL levels 1..5
  struct Node {
    std::uint32_t in = 0;  // present entries referencing this structure
    bool loaded = false;   // readable: entries copied and counted, frame watched
    // The copy of the frame (kWords entries) while loaded. Not value-initialised: load() reads
    // the whole frame into it at once (zeroing it first cost as much as the copy).
    std::unique_ptr<std::uint64_t[]> words;
  };
  static std::uint64_t key(PhysAddr table, unsigned kind) { return table | kind; }

  void link(PhysAddr table, unsigned kind);
  void unlink(PhysAddr table, unsigned kind);
  void load(PhysAddr table, unsigned kind, Node& n);
  // Adds (delta +1) or removes (-1) the references of entry `idx` of a structure of `kind`.
  // (w0, w1: the entry's words; w1 unused for a 64-bit second-level entry.)
  void entry_refs(unsigned kind, std::uint64_t w0, std::uint64_t w1, int delta);
  // entry_refs for every entry of a whole structure (loading or unloading it). Runs of 4 KiB
  // leaves mapping consecutive frames (a buffer mapped page by page) are counted one run at a
  // time; all-zero entries (never present) are skipped without decoding.
  void table_refs(unsigned kind, const std::uint64_t* words, int delta);
  // Re-reads the 64-byte lines of `frame` in `lines` (bit j: words 8j..8j+7).
  void refresh(PhysAddr frame, std::uint64_t lines);
  bool loaded_elsewhere(PhysAddr table, unsigned kind) const;

  const Walker& walker_;
  SimPhysMem& mem_;
  FrameRefs& refs_;
  std::unordered_map<std::uint64_t, Node> nodes_;
  bool have_root_ = false;
  PhysAddr root_ = 0;
  std::vector<std::uint64_t> written_;  // scratch for take_written_frames
  std::vector<std::uint64_t> lines_;    // scratch: the written lines of each of written_
  std::vector<std::uint64_t> fresh_;    // scratch: the frame being refreshed
};

}  // namespace kniommu::hw
