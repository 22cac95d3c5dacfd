// Domain: DID and table lifetime, grant mapping and revocation, teardown (docs/semantics.md
// "KnIoDmaBegin" and "Destruction and revocation"). Fallible steps come first; a failing call
// leaves the table, the allocator and the DIDs as they were.
#include "kos/domain.h"

#include <utility>

#include "common/failpoint.h"
#include "common/mutation.h"
#include "kos/dma_h.h"

namespace kniommu::kos {
namespace {

constexpr std::uint64_t kPage = 4096;

// Natural alignment for a grant: the largest superpage the buffer's blocks can fill and the unit
// supports, so the page table can map whole blocks with superpages.
std::uint64_t grant_alignment(unsigned order, std::uint32_t sllps) {
  if (order >= 18 && (sllps & 2) != 0) return std::uint64_t{1} << 30;
  if (order >= 9 && (sllps & 1) != 0) return std::uint64_t{1} << 21;
  return kPage;
}

// IOVAs below 2^MGAW. A domain without a driver never allocates IOVAs; any limit does.
std::uint64_t iova_limit(const vtd::driver::RemappingDriver* driver) {
  const unsigned width = driver != nullptr ? driver->caps().address_width : 48;
  return width >= 64 ? ~std::uint64_t{0} : std::uint64_t{1} << width;
}

}  // namespace

Retcode Domain::create(Process& owner, bool automatic, vtd::driver::RemappingDriver* driver,
                       vtd::PhysMem& mem, const vtd::PageTableConfig& config,
                       std::unique_ptr<Domain>* out) {
  if (failpoint_hit()) return rcOutOfMemory;  // the domain node
  std::unique_ptr<Domain> d(new Domain(owner, automatic, driver, iova_limit(driver)));
  if (driver != nullptr) {
    if (Retcode rc = driver->allocate_did(&d->did_); rc != rcOk) return rc;
    if (Retcode rc = DomainPageTable::create(mem, config, &d->table_); rc != rcOk) {
      driver->release_unused_did(d->did_);  // never programmed anywhere: no invalidation needed
      return rc;
    }
  }
  *out = std::move(d);
  return rcOk;
}

void Domain::discard_unused() {
  if (driver_ != nullptr) driver_->release_unused_did(did_);
}

Retcode Domain::attach(std::uint16_t bdf) {
  if (Retcode rc = driver_->prepare_attach(bdf); rc != rcOk) return rc;
  driver_->attach(bdf, did_, table_->root());
  devices_.insert(bdf);
  return rcOk;
}

void Domain::detach(std::uint16_t bdf, bool flush_iotlb) {
  driver_->detach(bdf, did_, flush_iotlb);
  devices_.erase(bdf);
}

void Domain::unmap_and_flush(std::uint64_t iova, std::uint64_t bytes) {
  auto pending = table_->new_pending();
  table_->unmap(iova, bytes, *pending);
  if (!mutant(Mutant::NoIotlbInvalidateOnRevoke)) driver_->flush_range(did_, pending->record());
  pending->release();
}

Retcode Domain::map_blocks(const Buffer& b, std::uint64_t iova) {
  const bool to_device = (b.flags & DMA_DIR_TO_DEVICE) != 0;
  const bool from_device = (b.flags & DMA_DIR_FROM_DEVICE) != 0;
  const bool read = to_device;
  const bool write = from_device || (to_device && mutant(Mutant::WriteForToDevice));
  const std::uint64_t block_bytes = b.block_pages() * kPage;
  for (std::size_t i = 0; i < b.blocks.size(); ++i) {
    const Retcode rc = table_->map(iova + i * block_bytes, b.blocks[i], block_bytes, read, write);
    if (rc == rcOk) continue;
    // Roll back (the failed block itself left nothing behind). The blocks mapped so far were
    // visible to the hardware (a device may guess an IOVA), so they are revoked like a grant close
    // before their table frames are freed.
    if (i > 0) {
      auto pending = table_->new_pending();
      table_->unmap(iova, i * block_bytes, *pending);
      driver_->flush_range(did_, pending->record());
      pending->release();
    }
    return rc;
  }
  return rcOk;
}

Retcode Domain::map_grant(Grant& g) {
  if (driver_ != nullptr) {
    const Buffer& b = *g.buffer;
    const std::uint64_t bytes = b.footprint_pages() * kPage;
    const std::uint64_t align = grant_alignment(b.order, driver_->caps().sllps());
    std::uint64_t iova = 0;
    if (Retcode rc = iova_.allocate(bytes, align, &iova); rc != rcOk) return rc;
    if (Retcode rc = map_blocks(b, iova); rc != rcOk) {
      iova_.release(iova);  // nothing mapped any more, and the range was invalidated
      return rc;
    }
    // CM=1 hardware may hold the not-present state of the new range: invalidate before return.
    driver_->flush_new_range(did_, iova, b.footprint_pages());
    g.iova = iova;
  }
  grants_.insert(&g);
  return rcOk;
}

void Domain::unmap_grant(Grant& g) {
  if (driver_ != nullptr) {
    unmap_and_flush(g.iova, g.buffer->footprint_pages() * kPage);
    iova_.release(g.iova);
  }
  grants_.erase(&g);
}

std::set<Grant*> Domain::teardown() {
  // No per-range invalidation: the one DSI below covers every grant.
  auto pending = table_ ? table_->new_pending() : nullptr;
  if (table_) {
    for (const Grant* g : grants_)
      table_->unmap(g->iova, g->buffer->footprint_pages() * kPage, *pending);
  }
  if (driver_ != nullptr) {
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
    if (mutant(Mutant::DidReusedWithoutInvalidation))
      driver_->release_did_without_flush(did_);
    else
#endif
      driver_->flush_domain_and_release_did(did_);
    pending->release();
  }
  return std::exchange(grants_, {});
}

#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
std::set<Grant*> Domain::abandon() {
  if (driver_ != nullptr) driver_->release_did_without_flush(did_);
  return std::exchange(grants_, {});
}
#endif

}  // namespace kniommu::kos
