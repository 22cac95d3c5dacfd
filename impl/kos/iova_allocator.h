// Per-domain IOVA allocator: deterministic lowest fit, natural alignment chosen by the caller (so
// superpages can be used), never IOVA page 0, never the interrupt window 0xFEE00000-0xFEEFFFFF
// (a translation landing there is blocked by hardware, fault 0xE), and within 2^address_width.
// A range is released only by the grant-close / domain-teardown paths after their invalidation
// completed, so an IOVA is reused only once no cached translation of it can remain.
#pragma once

#include <cstdint>
#include <map>

#include "kniommu/retcode.h"

namespace kniommu::kos {

class IovaAllocator {
 public:
  static constexpr std::uint64_t kInterruptWindowStart = 0xFEE00000;
  static constexpr std::uint64_t kInterruptWindowEnd = 0xFEF00000;  // exclusive

  // `limit`: exclusive upper bound (2^address_width).
  explicit IovaAllocator(std::uint64_t limit) : limit_(limit) {}

  // `bytes` and `align` are multiples of 4096, `align` a power of two. rcOutOfMemory when no gap
  // fits (or the fail-nth injection point fires).
  Retcode allocate(std::uint64_t bytes, std::uint64_t align, std::uint64_t* out);
  void release(std::uint64_t start);

  const std::map<std::uint64_t, std::uint64_t>& ranges() const { return ranges_; }  // start->end
  std::uint64_t limit() const { return limit_; }

 private:
  std::uint64_t limit_;
  std::map<std::uint64_t, std::uint64_t> ranges_;
};

}  // namespace kniommu::kos
