#include "vtd/driver/remapping_driver.h"

#include <array>
#include <thread>

#include "common/mutation.h"
#include "vtd/driver/descriptors.h"

namespace kniommu::vtd::driver {

RemappingDriver::RemappingDriver(Mmio& mmio, PhysMem& mem)
    : mmio_(mmio), mem_(mem), contexts_(mem), queue_(mmio, mem) {}

RemappingDriver::~RemappingDriver() {
  // Turn translation and the queue off before the tables and the ring are freed (by the members'
  // destructors), so the unit never walks or fetches from freed frames.
  if (gcmd_ != 0) {
    gcmd_ = 0;
    mmio_.write32(reg::kGcmd, 0);
  }
}

void RemappingDriver::wait_gsts(std::uint32_t bit, bool set) {
  while (((mmio_.read32(reg::kGsts) & bit) != 0) != set) std::this_thread::yield();
}

Retcode RemappingDriver::init() {
  caps_ = UnitCaps::decode(mmio_.read64(reg::kCap), mmio_.read64(reg::kEcap));
  if (!caps_.queued_invalidation() || caps_.levels == 0 || caps_.domain_ids() < 2)
    return rcNoCapability;
  dids_ = DomainIdAllocator(caps_.domain_ids());
  // ECAP.C = 0: table writes must be flushed from the CPU caches (VT-d spec §10.4.3).
  if (Retcode rc = contexts_.init(!caps_.coherent()); rc != rcOk) return rc;
  mmio_.write64(reg::kRtaddr, contexts_.root());   // TTM = 00: legacy mode
  mmio_.write32(reg::kGcmd, gcmd_ | gcmd::kSrtp);  // one-shot; not kept in the shadow
  wait_gsts(gcmd::kSrtp, true);
  if (Retcode rc = queue_.enable(&gcmd_); rc != rcOk) return rc;
  // A new root table invalidates nothing by itself (unless CAP.ESRTPS): global context-cache, then
  // global IOTLB (spec §6.5.2.1 order), then wait.
  const std::array<QiDescriptor, 2> global = {
      desc::context_cache_global(), desc::iotlb_global(caps_.drain_reads(), caps_.drain_writes())};
  queue_.submit_and_wait(global);
  gcmd_ |= gcmd::kTe;
  mmio_.write32(reg::kGcmd, gcmd_);
  wait_gsts(gcmd::kTe, true);
  return rcOk;
}

std::uint16_t RemappingDriver::revocation_did(std::uint16_t did) const {
  return mutant(Mutant::WrongDidInInvalidation) ? static_cast<std::uint16_t>(did + 1) : did;
}

QiDescriptor RemappingDriver::iotlb_dsi(std::uint16_t did) const {
  return desc::iotlb_domain(revocation_did(did), caps_.drain_reads(), caps_.drain_writes());
}

void RemappingDriver::flush_write_buffer() {
  if (!caps_.rwbf()) return;
  mmio_.write32(reg::kGcmd, gcmd_ | gcmd::kWbf);
  wait_gsts(gcmd::kWbf, false);
}

void RemappingDriver::attach(std::uint16_t sid, std::uint16_t did, PhysAddr slptptr) {
  contexts_.write_present(sid, did, slptptr, context_aw());
  if (!caps_.caching_mode()) {
    // CM=0: hardware never caches a not-present context entry; only posted writes need draining.
    flush_write_buffer();
    return;
  }
  // CM=1: the not-present entry may be cached, tagged with DID 0 (it had no DID); then the new
  // DID's IOTLB (Linux context_present_cache_flush).
  const std::array<QiDescriptor, 2> flush = {
      desc::context_cache_device(0, sid),
      desc::iotlb_domain(did, caps_.drain_reads(), caps_.drain_writes())};
  queue_.submit_and_wait(flush);
}

void RemappingDriver::detach(std::uint16_t sid, std::uint16_t old_did, bool flush_iotlb) {
  if (!mutant(Mutant::ContextLeftPresentAfterDetach)) contexts_.clear(sid);
  // Context cache first (device-selective, with the DID the entry had), then the old DID's IOTLB:
  // spec §6.2.2.1 / Fuchsia / Xen / Linux all order it context -> IOTLB.
  const std::array<QiDescriptor, 2> flush = {desc::context_cache_device(old_did, sid),
                                             iotlb_dsi(old_did)};
  std::span<const QiDescriptor> descs(flush);
  if (mutant(Mutant::NoContextInvalidateOnDetach)) descs = descs.subspan(1);
  if (!flush_iotlb) descs = descs.first(descs.size() - 1);
  queue_.submit_and_wait(descs);
}

QiDescriptor RemappingDriver::iotlb_desc_for(std::uint16_t tag,
                                             const PendingInvalidation& record) const {
  const IotlbInvalidation inv = iotlb_invalidation_for(record, caps_.psi(), caps_.mamv());
  return desc::words(iotlb_desc(tag, inv, caps_.drain_reads(), caps_.drain_writes()));
}

void RemappingDriver::flush_range(std::uint16_t did, const PendingInvalidation& unmapped) {
  if (unmapped.empty()) return;
  const QiDescriptor d = iotlb_desc_for(revocation_did(did), unmapped);
  queue_.submit_and_wait(std::span<const QiDescriptor>(&d, 1));
}

void RemappingDriver::flush_new_range(std::uint16_t did, std::uint64_t iova, std::uint64_t pages) {
  if (!caps_.caching_mode()) {
    flush_write_buffer();
    return;
  }
  // The real DID: IOTLB entries are tagged with the DID of the present context entry
  // (Xen c5c84e9766 removed a wrong DID-0 substitution here). IH = 0: not-present entries may be
  // cached at any level under CM.
  PendingInvalidation added;
  added.add_range(iova, iova + pages * kPageSize - 1);
  added.mark_non_leaf();
  const QiDescriptor d = iotlb_desc_for(did, added);
  queue_.submit_and_wait(std::span<const QiDescriptor>(&d, 1));
}

void RemappingDriver::flush_domain(std::uint16_t did) {
  const QiDescriptor d = iotlb_dsi(did);
  queue_.submit_and_wait(std::span<const QiDescriptor>(&d, 1));
}

void RemappingDriver::flush_domain_and_release_did(std::uint16_t did) {
  flush_domain(did);
  dids_.release(did);
}

}  // namespace kniommu::vtd::driver
