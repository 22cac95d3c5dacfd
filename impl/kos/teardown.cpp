// Closing handles and destroying domains and processes (docs/semantics.md "Destruction and
// revocation"). Every path that removes access returns only after its invalidation's wait
// descriptor completed; table frames, IOVAs, DIDs and buffer frames are released only after that.
#include <vector>

#include "common/mutation.h"
#include "kos/system.h"

namespace kniommu::kos {

void System::unref_buffer_locked(Buffer& b) {
  if (--b.refs != 0) return;
  // No handle, grant or mapping is left, and every grant's invalidation has completed: no device
  // can reach these frames any more.
  for (vtd::PhysAddr pa : b.blocks) hw_->mem().free_frames(pa, b.order);
  buffers_.erase(&b);
}

void System::close_grant_locked(Process& p, Grant& g) {
  Buffer& b = *g.buffer;
  Domain* d = g.domain;
  if (d != nullptr && driver_ != nullptr) {
    const std::uint64_t pages = b.footprint_pages();
    auto pending = d->table->new_pending();
    d->table->unmap(g.iova, pages * 4096, *pending);
    if (!mutant(Mutant::NoIotlbInvalidateOnRevoke)) driver_->flush_range(d->did, pending->record());
    pending->release();
    d->iova.release(g.iova);
  }
  if (d != nullptr) d->grants.erase(&g);
  b.grants.erase(d);
  p.grants.erase(&g);
  unref_buffer_locked(b);
}

void System::destroy_domain_locked(Domain& d, bool leave_grants_mapped) {
  Process& owner = *d.owner;
  // 1. Devices first: once their context entries are cleared and their context-cache entries
  //    invalidated, no request can use the DID or walk the table any more. Their IOTLB DSIs are
  //    folded into the one DSI of step 3 (same DID), issued before anything is reused.
  while (!d.devices.empty()) detach_locked(d, *d.devices.begin(), false);
  // 2. Every grant into the domain is unmapped (no per-range invalidation: one DSI covers all) and
  //    its handle revoked. Buffer references are dropped only after the DSI.
  std::vector<Buffer*> unref;
  auto pending = d.table ? d.table->new_pending() : nullptr;
  for (Grant* g : d.grants) {
    if (d.table && !leave_grants_mapped)
      d.table->unmap(g->iova, g->buffer->footprint_pages() * 4096, *pending);
    owner.handles.revoke(g->handle);
    g->buffer->grants.erase(&d);
    if (!leave_grants_mapped) unref.push_back(g->buffer);  // GrantSurvivesExit leaks the buffer
    owner.grants.erase(g);
  }
  d.grants.clear();
  // 3. One domain-selective invalidation, then the DID, table frames and buffers are released.
  if (driver_ != nullptr) {
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
    if (mutant(Mutant::DidReusedWithoutInvalidation) || leave_grants_mapped)
      driver_->release_did_without_flush(d.did);
    else
#endif
      driver_->flush_domain_and_release_did(d.did);
    pending->release();
  }
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
  if (leave_grants_mapped) {
    // GrantSurvivesExit mutant: the table stays allocated and mapped.
    mutant_leftover_tables_.push_back(std::move(d.table));
  }
#endif
  for (Buffer* b : unref) unref_buffer_locked(*b);
  if (owner.auto_domain == &d) owner.auto_domain = nullptr;
  --domains_alive_;
  owner.domains.erase(&d);
}

void System::close_entry_locked(Process& p, Handle h, bool exiting) {
  const HandleEntry e = *p.handles.find(h);
  p.handles.erase(h);
  if (e.revoked) return;  // the grant is gone already; closing frees the slot
  const bool leave_mapped = exiting && mutant(Mutant::GrantSurvivesExit);
  switch (e.kind) {
    case ObjectKind::Domain:
      destroy_domain_locked(static_cast<Domain&>(*e.object), leave_mapped);
      break;
    case ObjectKind::Buffer:
      unref_buffer_locked(static_cast<Buffer&>(*e.object));
      break;
    case ObjectKind::Grant: {
      auto& g = static_cast<Grant&>(*e.object);
      if (leave_mapped && g.domain != nullptr) {
        // GrantSurvivesExit mutant: bookkeeping forgets the grant, the mapping stays.
        g.domain->grants.erase(&g);
        g.buffer->grants.erase(g.domain);
        p.grants.erase(&g);
      } else {
        close_grant_locked(p, g);
      }
      break;
    }
    case ObjectKind::Mapping: {
      auto& m = static_cast<Mapping&>(*e.object);
      Buffer& b = *m.buffer;
      p.mappings.erase(m.va);
      unref_buffer_locked(b);
      break;
    }
    case ObjectKind::None:
      break;
  }
}

Retcode System::handle_close(KnPid pid, Handle h) {
  std::lock_guard lock(mu_);
  Process* p = process_locked(pid);
  if (p == nullptr) return rcInvalidArgument;
  if (p->handles.find(h) == nullptr) return rcInvalidArgument;
  close_entry_locked(*p, h, false);
  return rcOk;
}

void System::exit_locked(Process& p) {
  // Handles in increasing order; closing a domain handle revokes later grant handles, whose
  // closing then only frees the slot.
  for (Handle h : p.handles.live())
    if (p.handles.find(h) != nullptr) close_entry_locked(p, h, true);
  // What is left: the automatic domain (and, under the AutoDomainCreatedTwice mutant, the
  // automatic domains it orphaned).
  const bool leave_mapped = mutant(Mutant::GrantSurvivesExit);
  while (!p.domains.empty()) destroy_domain_locked(*p.domains.begin()->second, leave_mapped);
  processes_.erase(p.pid);
}

Retcode System::process_exit(KnPid pid) {
  std::lock_guard lock(mu_);
  Process* p = process_locked(pid);
  if (p == nullptr) return rcInvalidArgument;
  exit_locked(*p);
  return rcOk;
}

}  // namespace kniommu::kos
