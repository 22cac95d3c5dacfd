// The driver of one VT-d remapping unit: what a kernel does to program it. It talks to the unit
// only through vtd::Mmio and to memory only through vtd::PhysMem.
//
// Responsibilities: bring-up (root table, SRTP, queued invalidation, global invalidations, TE),
// context-entry programming with the invalidations each transition needs, domain IDs, and the
// IOTLB invalidation policy (PSI vs DSI). Page tables belong to the caller (one
// SecondLevelPageTable per domain); this class only invalidates what they changed.
//
// Every method that revokes (detach, flush_*) returns after a wait descriptor completed.
//
// Not thread-safe: every method must be called with the owner's lock held (kos::System holds its
// system mutex for every API call; lock order: system mutex -> unit registers -> physical memory).
#pragma once

#include <cstdint>

#include "kniommu/retcode.h"
#include "vtd/driver/context_tables.h"
#include "vtd/driver/domain_id_allocator.h"
#include "vtd/driver/invalidation_queue.h"
#include "vtd/driver/registers.h"
#include "vtd/invalidation.h"
#include "vtd/mmio.h"
#include "vtd/phys_mem.h"

namespace kniommu::vtd::driver {

class RemappingDriver {
 public:
  RemappingDriver(Mmio& mmio, PhysMem& mem);
  RemappingDriver(const RemappingDriver&) = delete;
  RemappingDriver& operator=(const RemappingDriver&) = delete;
  ~RemappingDriver();

  // Bring-up: decode CAP/ECAP, root table + SRTP, QI ring + QIE, global context-cache and global
  // IOTLB invalidation (+ wait), then TE. rcNoCapability if the unit lacks QI or a usable level
  // count; rcOutOfMemory if a frame is missing.
  Retcode init();
  const UnitCaps& caps() const { return caps_; }
  // Context-entry AW field for the domains' table depth.
  unsigned context_aw() const { return caps_.levels - 2; }

  // --- Domain IDs ---
  Retcode allocate_did(std::uint16_t* out) { return dids_.allocate(out); }
  // For a DID that never reached the hardware (rollback of a failed call).
  void release_unused_did(std::uint16_t did) { dids_.release(did); }
  // Domain-selective IOTLB invalidation for `did`, wait, then the DID is free for reuse.
  void flush_domain_and_release_did(std::uint16_t did);
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
  // Releases without invalidating: only for the DidReusedWithoutInvalidation mutant.
  void release_did_without_flush(std::uint16_t did) { dids_.release(did); }
#endif
  const DomainIdAllocator& dids() const { return dids_; }

  // --- Context entries ---
  // Allocates the context table of the device's bus if needed (the only fallible step of attach).
  Retcode prepare_attach(std::uint16_t sid) {
    return contexts_.ensure_bus(static_cast<std::uint8_t>(sid >> 8));
  }
  // Not-present -> present. Requires prepare_attach(sid) == rcOk before.
  void attach(std::uint16_t sid, std::uint16_t did, PhysAddr slptptr);
  // Present -> not present, then context-cache (device, old DID) and IOTLB DSI (old DID), wait.
  // `flush_iotlb` = false only when the caller issues a DSI for `old_did` itself before the DID or
  // anything the domain mapped is reused (domain teardown folds all its devices' DSIs into one):
  // once the context entry is gone and its cache entry invalidated, no request can use the DID's
  // IOTLB entries.
  void detach(std::uint16_t sid, std::uint16_t old_did, bool flush_iotlb = true);
  ContextEntryValue context(std::uint16_t sid) const { return contexts_.read(sid); }
  const ContextTables& context_tables() const { return contexts_; }

  // --- IOTLB ---
  // After an unmap: the IOTLB invalidation `unmapped` needs (vtd::iotlb_invalidation_for, the
  // planner the unit tests and the Z3 lemmas check: PSI over the record's range with IH = 0 once a
  // table was unlinked, or DSI), then wait. Nothing to do for an empty record.
  void flush_range(std::uint16_t did, const PendingInvalidation& unmapped);
  // After not-present -> present leaves: only CM=1 hardware may have cached the not-present state
  // (PSI with the real DID); CM=0 needs at most a write-buffer flush.
  void flush_new_range(std::uint16_t did, std::uint64_t iova, std::uint64_t pages);
  void flush_domain(std::uint16_t did);

  std::uint64_t invalidation_submissions() const { return queue_.submissions(); }

 private:
  QiDescriptor iotlb_dsi(std::uint16_t did) const;
  // The IOTLB descriptor for `record`, tagged with `tag`.
  QiDescriptor iotlb_desc_for(std::uint16_t tag, const PendingInvalidation& record) const;
  std::uint16_t revocation_did(std::uint16_t did) const;
  void flush_write_buffer();
  void wait_gsts(std::uint32_t bit, bool set);

  Mmio& mmio_;
  PhysMem& mem_;
  UnitCaps caps_;
  std::uint32_t gcmd_ = 0;  // persistent GCMD bits (TE, QIE)
  ContextTables contexts_;
  InvalidationQueue queue_;
  DomainIdAllocator dids_{0};
};

}  // namespace kniommu::vtd::driver
