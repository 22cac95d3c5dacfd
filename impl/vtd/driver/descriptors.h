// The legacy 128-bit queued-invalidation descriptors the driver issues, built through the shared
// Hana layouts (vtd/entries.h), so the driver and the emulated unit agree on every bit by
// construction (../shared/reference/vtd.md §1.8).
#pragma once

#include <cstdint>

#include "vtd/driver/invalidation_queue.h"
#include "vtd/entries.h"

namespace kniommu::vtd::driver::desc {

enum class ContextGranularity : std::uint64_t { Global = 1, Domain = 2, Device = 3 };
enum class IotlbGranularity : std::uint64_t { Global = 1, Domain = 2, Page = 3 };

// Type 0x1. FM = 0 (no function mask): exactly one SID.
constexpr QiDescriptor context_cache(ContextGranularity g, std::uint16_t did, std::uint16_t sid) {
  ContextCacheDesc d;
  d.set_type(kDescContextCache)
      .set_granularity(static_cast<std::uint64_t>(g))
      .set_did(did)
      .set_sid(sid);
  return {d.w[0], d.w[1]};
}

// Type 0x2. For Page granularity `addr` must be aligned to 2^am pages; ih = 1 promises that only
// leaf entries changed (paging-structure caches may be kept). Address fields only for Page.
constexpr QiDescriptor iotlb(IotlbGranularity g, std::uint16_t did, bool drain_reads,
                             bool drain_writes, std::uint64_t addr = 0, unsigned am = 0,
                             bool ih = false) {
  IotlbDesc d;
  d.set_type(kDescIotlb).set_granularity(static_cast<std::uint64_t>(g)).set_did(did);
  d.set_dr(drain_reads ? 1 : 0).set_dw(drain_writes ? 1 : 0);
  if (g == IotlbGranularity::Page)
    d.set_addr_field(addr >> kPageShift).set_am(am).set_ih(ih ? 1 : 0);
  return {d.w[0], d.w[1]};
}

// Type 0x5 with SW = 1: the unit writes `data` (32 bits) to `status_pa` (4-byte aligned) when every
// earlier descriptor has completed.
constexpr QiDescriptor wait_with_status(std::uint64_t status_pa, std::uint32_t data) {
  WaitDesc d;
  d.set_type(kDescWait).set_status_write(1).set_status_data(data).set_saddr_field(status_pa >> 2);
  return {d.w[0], d.w[1]};
}

}  // namespace kniommu::vtd::driver::desc
