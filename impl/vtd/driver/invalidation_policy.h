// Which IOTLB invalidation covers a range of IOVA pages: a page-selective invalidation (PSI) with
// the smallest address mask whose aligned block covers the whole range, or a domain-selective one
// (DSI) when the unit has no PSI or the mask would exceed CAP.MAMV. The mask comes from the shared
// vtd::psi_for_range (both ends of the range, not its rounded-up size: Linux 59bf3557cf2f), so the
// driver and the proofs reason about the same computation (and its PsiMaskTooSmall mutant).
#pragma once

#include <cstdint>

#include "vtd/driver/registers.h"

namespace kniommu::vtd::driver {

struct RangeFlush {
  bool domain_selective = false;
  std::uint64_t addr = 0;  // PSI: page address aligned to 2^am pages
  unsigned am = 0;
};

// `pages` >= 1 pages of 4 KiB starting at page-aligned `iova`.
RangeFlush plan_range_flush(const UnitCaps& caps, std::uint64_t iova, std::uint64_t pages);

}  // namespace kniommu::vtd::driver
