#include "vtd/driver/registers.h"

#include <algorithm>

#include "vtd/caps.h"

namespace kniommu::vtd::driver {

UnitCaps decode_caps(std::uint64_t cap_raw, std::uint64_t ecap_raw) {
  const CapReg cap = CapReg::from(cap_raw);
  const EcapReg ecap = EcapReg::from(ecap_raw);
  UnitCaps c;
  c.nd = static_cast<std::uint32_t>(cap.nd());
  c.domain_ids = c.nd >= 7 ? 0 : static_cast<std::uint32_t>(cap.domain_count());
  c.rwbf = cap.rwbf() != 0;
  c.caching_mode = cap.cm() != 0;
  c.sagaw = static_cast<std::uint32_t>(cap.sagaw());
  c.mgaw = cap.mgaw_bits();
  c.sllps = static_cast<std::uint32_t>(cap.sllps());
  c.psi = cap.psi() != 0;
  c.mamv = static_cast<std::uint32_t>(cap.mamv());
  c.drain_writes = cap.dwd() != 0;
  c.drain_reads = cap.drd() != 0;
  c.coherent = ecap.c() != 0;
  c.queued_invalidation = ecap.qi() != 0;
  c.levels = select_levels(cap);
  if (c.levels != 0) c.address_width = std::min(c.mgaw, width_for_levels(c.levels));
  return c;
}

}  // namespace kniommu::vtd::driver
