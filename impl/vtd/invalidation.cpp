#include "vtd/invalidation.h"

#include <bit>

#include "common/mutation.h"

namespace kniommu::vtd {

PsiRange psi_for_range(std::uint64_t first_pfn, std::uint64_t last_pfn, unsigned mamv) {
  unsigned am = static_cast<unsigned>(psi_mask<U64Ops>(first_pfn, last_pfn));
  if (mutant(Mutant::PsiMaskTooSmall)) {
    // The pre-2022 Linux bug: mask from the page count rounded up to a power of two, ignoring
    // that an unaligned range needs a bigger aligned block to cover both ends.
    // ceil(log2(pages)) = bit_width(pages - 1).
    am = static_cast<unsigned>(std::bit_width(last_pfn - first_pfn));
  }
  PsiRange r;
  if (am > mamv) return r;  // domain-selective
  r.page_selective = true;
  r.am = am;
  r.addr = psi_base(first_pfn, am) << kPageShift;
  // The range's first page instead of the aligned block's base: relies on hardware ignoring the
  // low AM bits of ADDR, which the specification leaves undefined (VT-d spec §6.5.2.3).
  if (mutant(Mutant::PsiAddressUnaligned)) r.addr = first_pfn << kPageShift;
  return r;
}

IotlbInvalidation iotlb_invalidation_for(const PendingInvalidation& p, bool psi_supported,
                                         unsigned mamv) {
  IotlbInvalidation inv;
  if (p.empty() || !psi_supported) return inv;
  const PsiRange r = psi_for_range(p.first_iova() >> kPageShift, p.last_iova() >> kPageShift, mamv);
  if (!r.page_selective) return inv;
  inv.granularity = Granularity::kDeviceOrPage;
  inv.addr = r.addr;
  inv.am = r.am;
  inv.ih = p.leaf_only();
  return inv;
}

namespace {
constexpr std::uint64_t g(Granularity gr) { return static_cast<std::uint64_t>(gr); }
}  // namespace

ContextCacheDesc cc_global_desc() {
  ContextCacheDesc d;
  d.set_type(kDescContextCache).set_granularity(g(Granularity::kGlobal));
  return d;
}

ContextCacheDesc cc_domain_desc(std::uint16_t did) {
  ContextCacheDesc d;
  d.set_type(kDescContextCache).set_granularity(g(Granularity::kDomain)).set_did(did);
  return d;
}

ContextCacheDesc cc_device_desc(std::uint16_t did, std::uint16_t sid, unsigned fm) {
  ContextCacheDesc d;
  d.set_type(kDescContextCache)
      .set_granularity(g(Granularity::kDeviceOrPage))
      .set_did(did)
      .set_sid(sid)
      .set_fm(fm);
  return d;
}

namespace {
IotlbDesc iotlb_base(Granularity gr, std::uint16_t did, bool drain_reads, bool drain_writes) {
  IotlbDesc d;
  d.set_type(kDescIotlb)
      .set_granularity(g(gr))
      .set_did(did)
      .set_dr(drain_reads)
      .set_dw(drain_writes);
  return d;
}
}  // namespace

IotlbDesc iotlb_global_desc(bool drain_reads, bool drain_writes) {
  return iotlb_base(Granularity::kGlobal, 0, drain_reads, drain_writes);
}

IotlbDesc iotlb_domain_desc(std::uint16_t did, bool drain_reads, bool drain_writes) {
  return iotlb_base(Granularity::kDomain, did, drain_reads, drain_writes);
}

IotlbDesc iotlb_page_desc(std::uint16_t did, std::uint64_t addr, unsigned am, bool ih,
                          bool drain_reads, bool drain_writes) {
  IotlbDesc d = iotlb_base(Granularity::kDeviceOrPage, did, drain_reads, drain_writes);
  d.set_am(am).set_ih(ih).set_addr_field(addr >> kPageShift);
  return d;
}

IotlbDesc iotlb_desc(std::uint16_t did, const IotlbInvalidation& inv, bool drain_reads,
                     bool drain_writes) {
  if (inv.granularity == Granularity::kDeviceOrPage) {
    return iotlb_page_desc(did, inv.addr, inv.am, inv.ih, drain_reads, drain_writes);
  }
  if (inv.granularity == Granularity::kGlobal) return iotlb_global_desc(drain_reads, drain_writes);
  return iotlb_domain_desc(did, drain_reads, drain_writes);
}

WaitDesc wait_desc(PhysAddr status_pa, std::uint32_t data, bool interrupt, bool fence) {
  WaitDesc d;
  d.set_type(kDescWait).set_status_write(1).set_status_data(data).set_saddr_field(status_pa >> 2);
  d.set_interrupt(interrupt).set_fence(fence);
  return d;
}

}  // namespace kniommu::vtd
