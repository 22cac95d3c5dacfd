// The legacy 128-bit queued-invalidation descriptors the driver issues: thin adapters from the
// shared encoders of vtd/invalidation.h (built on the Hana layouts the emulated unit decodes with)
// to the ring's QiDescriptor (VT-d spec §6.5.2).
#pragma once

#include <cstdint>

#include "vtd/driver/invalidation_queue.h"
#include "vtd/invalidation.h"

namespace kniommu::vtd::driver::desc {

template <class D>
QiDescriptor words(const D& d) {
  return {d.w[0], d.w[1]};
}

// FM = 0 (no function mask): exactly one SID.
inline QiDescriptor context_cache_global() { return words(cc_global_desc()); }
inline QiDescriptor context_cache_device(std::uint16_t did, std::uint16_t sid) {
  return words(cc_device_desc(did, sid, 0));
}

inline QiDescriptor iotlb_global(bool drain_reads, bool drain_writes) {
  return words(iotlb_global_desc(drain_reads, drain_writes));
}
inline QiDescriptor iotlb_domain(std::uint16_t did, bool drain_reads, bool drain_writes) {
  return words(iotlb_domain_desc(did, drain_reads, drain_writes));
}
// `addr` aligned to 2^am pages; ih = 1 promises that only leaf entries changed.
inline QiDescriptor iotlb_page(std::uint16_t did, std::uint64_t addr, unsigned am, bool ih,
                               bool drain_reads, bool drain_writes) {
  return words(iotlb_page_desc(did, addr, am, ih, drain_reads, drain_writes));
}

// SW = 1: the unit writes `data` to `status_pa` once every earlier descriptor completed. FN = 1
// (fence): later descriptors wait for this one.
inline QiDescriptor wait_with_status(std::uint64_t status_pa, std::uint32_t data) {
  return words(wait_desc(status_pa, data));
}

}  // namespace kniommu::vtd::driver::desc
