#include "hw/frame_refs.h"

#include <algorithm>

namespace kniommu::hw {

FrameRefs::FrameRefs(std::uint64_t memory_bytes)
    : frames_(memory_bytes >> vtd::kPageShift),
      chunks_((frames_ >> kChunkBits) + 1),
      count_2m_((memory_bytes >> 21) + 1, 0),
      count_1g_((memory_bytes >> 30) + 1, 0) {}

void FrameRefs::change(PhysAddr pa, unsigned shift, int delta) {
  const std::uint64_t pfn = pa >> vtd::kPageShift;
  if (pfn >= frames_) return;  // outside the memory: can never be freed
  const auto apply = [delta](std::uint32_t& c) { c = static_cast<std::uint32_t>(c + delta); };
  if (shift == 21) {
    apply(count_2m_[pa >> 21]);
    return;
  }
  if (shift == 30) {
    apply(count_1g_[pa >> 30]);
    return;
  }
  std::unique_ptr<Chunk>& chunk = chunks_[pfn >> kChunkBits];
  if (chunk == nullptr) chunk = std::make_unique<Chunk>();
  apply(chunk->count[pfn & ((std::uint64_t{1} << kChunkBits) - 1)]);
  chunk->total = static_cast<std::uint64_t>(static_cast<std::int64_t>(chunk->total) + delta);
}

void FrameRefs::change_frames(PhysAddr pa, std::uint64_t frames, int delta) {
  const std::uint64_t first = pa >> vtd::kPageShift;
  if (first >= frames_) return;  // outside the memory: can never be freed
  const std::uint64_t end = first + std::min(frames, frames_ - first);
  constexpr std::uint64_t kChunkMask = (std::uint64_t{1} << kChunkBits) - 1;
  const auto d = static_cast<std::uint32_t>(delta);  // modulo 2^32, as change() counts
  for (std::uint64_t pfn = first; pfn < end;) {
    const std::uint64_t stop = std::min(end, (pfn | kChunkMask) + 1);
    std::unique_ptr<Chunk>& chunk = chunks_[pfn >> kChunkBits];
    if (chunk == nullptr) chunk = std::make_unique<Chunk>();
    // One independent add per counter and one update of the chunk's total, instead of a
    // read-modify-write of `total` per frame. Blocks of 8 counters: a loop of fixed length is
    // vectorised at -O2 (GCC's very-cheap cost model does not vectorise the variable-length one:
    // a whole leaf table of a buffer was 4 instructions per frame).
    std::uint32_t* c = chunk->count + (pfn & kChunkMask);
    const std::uint64_t n = stop - pfn;
    std::uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      for (unsigned k = 0; k < 8; ++k) c[i + k] += d;
    }
    for (; i < n; ++i) c[i] += d;
    chunk->total += static_cast<std::uint64_t>(static_cast<std::int64_t>(delta)) * (stop - pfn);
    pfn = stop;
  }
}

bool FrameRefs::any_range(PhysAddr pa, std::uint64_t len) const {
  if (len == 0) return false;
  const std::uint64_t last = pa + len - 1;
  for (std::uint64_t g = pa >> 30; g <= (last >> 30) && g < count_1g_.size(); ++g) {
    if (count_1g_[g] != 0) return true;
  }
  for (std::uint64_t g = pa >> 21; g <= (last >> 21) && g < count_2m_.size(); ++g) {
    if (count_2m_[g] != 0) return true;
  }
  const std::uint64_t first_pfn = pa >> vtd::kPageShift;
  const std::uint64_t end_pfn = std::min(frames_, (last >> vtd::kPageShift) + 1);
  for (std::uint64_t pfn = first_pfn; pfn < end_pfn;) {
    const std::uint64_t chunk_end = ((pfn >> kChunkBits) + 1) << kChunkBits;
    const Chunk* chunk = chunks_[pfn >> kChunkBits].get();
    if (chunk == nullptr || chunk->total == 0) {
      pfn = chunk_end;
      continue;
    }
    for (; pfn < std::min(end_pfn, chunk_end); ++pfn) {
      if (chunk->count[pfn & ((std::uint64_t{1} << kChunkBits) - 1)] != 0) return true;
    }
  }
  return false;
}

}  // namespace kniommu::hw
