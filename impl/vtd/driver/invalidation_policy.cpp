#include "vtd/driver/invalidation_policy.h"

#include "vtd/invalidation.h"

namespace kniommu::vtd::driver {

RangeFlush plan_range_flush(const UnitCaps& caps, std::uint64_t iova, std::uint64_t pages) {
  RangeFlush f;
  const std::uint64_t first = iova >> kPageShift;
  const std::uint64_t last = first + (pages == 0 ? 0 : pages - 1);
  const PsiRange r = psi_for_range(first, last, caps.mamv);
  if (!caps.psi || !r.page_selective) {
    f.domain_selective = true;
    return f;
  }
  f.addr = r.addr;
  f.am = r.am;
  return f;
}

}  // namespace kniommu::vtd::driver
