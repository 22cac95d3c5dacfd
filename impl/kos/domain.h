// A Domain (docs/semantics.md "Vocabulary"): one DID, the second-level page table its devices'
// context entries point at, the IOVA allocator of that table, the devices attached to it and the
// grants mapped into it. The Domain owns its table and allocator and does everything that programs
// them (as Zircon's DeviceContext owns its page table and region allocator); System keeps the
// process, handle and attachment bookkeeping, the lock, and calls these methods with it held.
//
// With the IOMMU disabled a Domain is bookkeeping only: no DID, no table, no IOVAs.
//
// Revocation is synchronous: unmap_grant() and teardown() return only after their invalidation's
// wait descriptor completed; table frames and IOVAs are released only after that.
#pragma once

#include <cstdint>
#include <memory>
#include <set>

#include "kniommu/handle.h"
#include "kos/iova_allocator.h"
#include "kos/objects.h"
#include "kos/page_table.h"
#include "vtd/driver/remapping_driver.h"

namespace kniommu::kos {

class Domain final : public Object {
 public:
  // A fresh domain of `owner`: a DID and an empty table from `driver` (nullptr: IOMMU disabled).
  // rcOutOfMemory (DIDs, table frame, the fail-nth point of the domain node) leaves nothing behind.
  static Retcode create(Process& owner, bool automatic, vtd::driver::RemappingDriver* driver,
                        vtd::PhysMem& mem, const vtd::PageTableConfig& config,
                        std::unique_ptr<Domain>* out);
  // Frees the table's frames. Destroy only after teardown() (or discard_unused()), so no context
  // entry points at the table and the DID was invalidated.
  ~Domain() override = default;

  // Rollback of create() for a domain that never reached a context entry and maps nothing: its
  // DID is returned without an invalidation (its empty table was never walked).
  void discard_unused();

  // Points the context entry of `bdf` at this domain's table. Fallible only in prepare_attach.
  Retcode attach(std::uint16_t bdf);
  // Clears the context entry of `bdf` and invalidates it. `flush_iotlb` = false: domain teardown,
  // whose final DSI covers the IOTLB.
  void detach(std::uint16_t bdf, bool flush_iotlb = true);

  // Allocates the IOVA range of `g` (g.buffer's footprint, aligned for the largest leaf the blocks
  // fill and the unit supports), maps every block with the buffer's direction, and adds g to
  // grants(). On failure nothing is mapped or allocated and g is unchanged.
  Retcode map_grant(Grant& g);
  // Unmaps g's range, invalidates it, then releases its table frames and IOVAs.
  void unmap_grant(Grant& g);
  // Devices must be detached first. Unmaps every grant (one DSI covers them all), invalidates and
  // releases the DID, frees the emptied table frames. Returns the grants that were mapped (the
  // caller drops their handles and buffer references); afterwards grants() is empty.
  std::set<Grant*> teardown();

  Process& owner() const { return *owner_; }
  bool automatic() const { return automatic_; }
  std::uint16_t did() const { return did_; }  // 0: IOMMU disabled
  const std::set<std::uint16_t>& devices() const { return devices_; }
  const std::set<Grant*>& grants() const { return grants_; }
  const IovaAllocator& iova() const { return iova_; }
  // Root of the table (0 when the IOMMU is disabled).
  vtd::PhysAddr table_root() const { return table_ ? table_->root() : 0; }

  Handle handle = INVALID_HANDLE;  // created domains only

#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
  // DeviceAttachedTwice mutant: another domain took `bdf`'s context entry without a detach.
  void forget_device(std::uint16_t bdf) { devices_.erase(bdf); }
  // GrantSurvivesExit mutant: teardown() that unmaps nothing and releases the DID without its
  // DSI; the table stays allocated and mapped until the domain object is destroyed.
  std::set<Grant*> abandon();
#endif

 private:
  Domain(Process& owner, bool automatic, vtd::driver::RemappingDriver* driver,
         std::uint64_t iova_limit)
      : Object(ObjectKind::Domain),
        owner_(&owner),
        automatic_(automatic),
        driver_(driver),
        iova_(iova_limit) {}
  Retcode map_blocks(const Buffer& b, std::uint64_t iova);
  // Unmaps [iova, iova + bytes), invalidates it and frees the emptied table frames.
  void unmap_and_flush(std::uint64_t iova, std::uint64_t bytes);

  Process* owner_;
  bool automatic_;
  vtd::driver::RemappingDriver* driver_;  // nullptr: IOMMU disabled
  std::uint16_t did_ = 0;
  std::unique_ptr<DomainPageTable> table_;  // null when the IOMMU is disabled
  IovaAllocator iova_;
  std::set<std::uint16_t> devices_;  // attached BDFs
  std::set<Grant*> grants_;
};

}  // namespace kniommu::kos
