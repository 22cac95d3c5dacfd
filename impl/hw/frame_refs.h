// Reference counts per physical frame range, the bookkeeping behind the remapping unit's
// incremental use-after-free audit: every cached translation-structure pointer and every entry
// of the live table tree adds one reference to the range it names, and removing it drops one, so
// "could the unit still reach this frame?" is a count lookup instead of a scan of the caches and
// of every reachable table.
//
// A reference names a naturally aligned range of 2^shift bytes, shift 12, 21 or 30 (a frame, or a
// 2 MiB / 1 GiB superpage). Parts outside the simulated memory are not counted: no frame there
// can ever be freed. Not thread-safe (the unit's mutex guards it).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "vtd/phys_mem.h"

namespace kniommu::hw {

using vtd::PhysAddr;

class FrameRefs {
 public:
  explicit FrameRefs(std::uint64_t memory_bytes);

  void add(PhysAddr pa, unsigned shift) {
    if (!change_frame(pa, shift, +1)) change(pa, shift, +1);
  }
  void remove(PhysAddr pa, unsigned shift) {
    if (!change_frame(pa, shift, -1)) change(pa, shift, -1);
  }
  // `frames` references of consecutive 4 KiB frames from `pa` at once (what a run of 4 KiB leaves
  // mapping contiguous memory adds): the same counts as one add/remove per frame, in one pass.
  void add_frames(PhysAddr pa, std::uint64_t frames) { change_frames(pa, frames, +1); }
  void remove_frames(PhysAddr pa, std::uint64_t frames) { change_frames(pa, frames, -1); }
  // True when some counted range overlaps [pa, pa + len).
  bool any(PhysAddr pa, std::uint64_t len) const {
    return len == vtd::kPageSize ? any_frame(pa) : any_range(pa, len);
  }

 private:
  static constexpr unsigned kChunkBits = 10;  // 4 KiB counters per chunk (4 MiB of memory)
  struct Chunk {
    std::uint64_t total = 0;  // sum of `count`, so an idle chunk is skipped in one test
    std::uint32_t count[std::size_t{1} << kChunkBits] = {};
  };
  // any() for one 4 KiB range (what a free of one frame asks): the three counters that can cover
  // it, or any_range when it lies (partly) outside the memory.
  bool any_frame(PhysAddr pa) const {
    const std::uint64_t pfn = pa >> vtd::kPageShift;
    if (pa % vtd::kPageSize != 0 || pfn >= frames_) return any_range(pa, vtd::kPageSize);
    if (count_1g_[pa >> 30] != 0 || count_2m_[pa >> 21] != 0) return true;
    const Chunk* chunk = chunks_[pfn >> kChunkBits].get();
    return chunk != nullptr && chunk->count[pfn & ((std::uint64_t{1} << kChunkBits) - 1)] != 0;
  }
  bool any_range(PhysAddr pa, std::uint64_t len) const;
  void change(PhysAddr pa, unsigned shift, int delta);
  void change_frames(PhysAddr pa, std::uint64_t frames, int delta);
  // The common case inline (every IOTLB fill and eviction of a 4 KiB page lands here): a 4 KiB
  // reference in a chunk that already exists. False: take the general path.
  bool change_frame(PhysAddr pa, unsigned shift, int delta) {
    const std::uint64_t pfn = pa >> vtd::kPageShift;
    if (shift != 12 || pfn >= frames_) return false;
    Chunk* chunk = chunks_[pfn >> kChunkBits].get();
    if (chunk == nullptr) return false;
    std::uint32_t& c = chunk->count[pfn & ((std::uint64_t{1} << kChunkBits) - 1)];
    c = static_cast<std::uint32_t>(c + static_cast<std::uint32_t>(delta));
    chunk->total += static_cast<std::uint64_t>(static_cast<std::int64_t>(delta));
    return true;
  }

  std::uint64_t frames_;
  std::vector<std::unique_ptr<Chunk>> chunks_;  // per 4 MiB, allocated on first reference
  std::vector<std::uint32_t> count_2m_;         // references of whole 2 MiB ranges
  std::vector<std::uint32_t> count_1g_;         // references of whole 1 GiB ranges
};

}  // namespace kniommu::hw
