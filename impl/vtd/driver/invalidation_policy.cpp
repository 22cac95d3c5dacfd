#include "vtd/driver/invalidation_policy.h"

#include <bit>

namespace kniommu::vtd::driver {

RangeFlush plan_range_flush(const UnitCaps& caps, std::uint64_t iova, std::uint64_t pages) {
  RangeFlush f;
  const std::uint64_t first = iova >> 12;
  const std::uint64_t last = first + (pages == 0 ? 0 : pages - 1);
  // Smallest am such that first and last agree above bit am: the block [first & ~(2^am - 1),
  // first | (2^am - 1)] then contains the whole range.
  const unsigned am = static_cast<unsigned>(std::bit_width(first ^ last));
  if (!caps.psi || am > caps.mamv) {
    f.domain_selective = true;
    return f;
  }
  f.am = am;
  f.addr = (first & ~((std::uint64_t{1} << am) - 1)) << 12;
  return f;
}

}  // namespace kniommu::vtd::driver
