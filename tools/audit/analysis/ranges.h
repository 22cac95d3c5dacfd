// Physical page ranges with VT-d permissions, and the few set operations the audit needs.
// Everything works on page numbers internally so a 1 GiB superpage is one range, not 262144 pages.
#pragma once

#include <cstdint>
#include <vector>

namespace kniommu::audit {

inline constexpr std::uint8_t kRead = 0x1;
inline constexpr std::uint8_t kWrite = 0x2;

struct Range {
  std::uint64_t pa = 0;                                    // first byte, 4 KiB aligned
  std::uint64_t pages = 0;                                 // number of 4 KiB pages, > 0
  std::uint8_t perms = 0;                                  // kRead | kWrite
  std::uint64_t end() const { return pa + pages * 4096; }  // one past the last byte
  friend bool operator==(const Range&, const Range&) = default;
};

// Sorted, disjoint ranges; overlapping input ranges OR their permissions; adjacent ranges with
// equal permissions are merged. Ranges with no permission are dropped.
std::vector<Range> normalize(std::vector<Range> ranges);

// The part of `reach` (normalized) that `allowed` (normalized) does not permit: each returned
// range carries only the permissions in excess of what `allowed` grants there.
std::vector<Range> excess(const std::vector<Range>& reach, const std::vector<Range>& allowed);

// Where two normalized range sets overlap; perms of the result = a's perms | b's perms there.
std::vector<Range> overlap(const std::vector<Range>& a, const std::vector<Range>& b);

// Total pages covered.
std::uint64_t page_count(const std::vector<Range>& ranges);

}  // namespace kniommu::audit
