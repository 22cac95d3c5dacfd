#include "kos/iova_allocator.h"

#include "common/failpoint.h"

namespace kniommu::kos {
namespace {
constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}
}  // namespace

Retcode IovaAllocator::allocate(std::uint64_t bytes, std::uint64_t align, std::uint64_t* out) {
  if (failpoint_hit()) return rcOutOfMemory;
  if (bytes == 0 || bytes > limit_) return rcOutOfMemory;
  // First candidate: the first aligned address above page 0 that avoids the interrupt window.
  auto place = [&](std::uint64_t from) {
    std::uint64_t c = align_up(from, align);
    if (c < kInterruptWindowEnd && c + bytes > kInterruptWindowStart)
      c = align_up(kInterruptWindowEnd, align);
    return c;
  };
  std::uint64_t candidate = place(4096);
  for (const auto& [start, end] : ranges_) {
    if (candidate + bytes <= start) break;  // fits in the gap before this range
    if (end > candidate) candidate = place(end);
  }
  // Overflow-safe check against the address-width limit.
  if (candidate > limit_ || bytes > limit_ - candidate) return rcOutOfMemory;
  ranges_.emplace(candidate, candidate + bytes);
  *out = candidate;
  return rcOk;
}

void IovaAllocator::release(std::uint64_t start) { ranges_.erase(start); }

}  // namespace kniommu::kos
