// Closing handles and destroying domains and processes (docs/semantics.md "Destruction and
// revocation"). Every path that removes access returns only after its invalidation's wait
// descriptor completed; table frames, IOVAs, DIDs and buffer frames are released only after that.
// What a domain programs is undone by Domain; this file drops the handle and buffer bookkeeping.
#include <vector>

#include "common/mutation.h"
#include "kos/system.h"

namespace kniommu::kos {

void System::unref_buffer_locked(Buffer& b) {
  if (--b.refs != 0) return;
  // No handle, grant or mapping is left, and every grant's invalidation has completed: no device
  // can reach these frames any more.
  hw_->mem().free_blocks(b.blocks.data(), b.blocks.size(), b.order);
  buffers_.erase(&b);
}

void System::close_grant_locked(Process& p, Grant& g) {
  Buffer& b = *g.buffer;
  Domain* d = g.domain;
  if (d != nullptr) d->unmap_grant(g);
  b.grants.erase(d);
  p.grants.erase(&g);
  unref_buffer_locked(b);
}

void System::destroy_domain_locked(Domain& d) {
  Process& owner = d.owner();
  // 1. Devices first: once their context entries are cleared and their context-cache entries
  //    invalidated, no request can use the DID or walk the table any more. Their IOTLB DSIs are
  //    folded into the one DSI of the domain's teardown (same DID), issued before anything is
  //    reused.
  while (!d.devices().empty()) detach_locked(d, *d.devices().begin(), false);
  // 2. The domain unmaps every grant, issues one domain-selective invalidation and releases its
  //    DID and table frames; then the grants' handles are revoked and their buffers released.
  for (Grant* g : d.teardown()) {
    Buffer& b = *g->buffer;
    owner.handles.revoke(g->handle);
    b.grants.erase(&d);
    owner.grants.erase(g);
    unref_buffer_locked(b);
  }
  if (owner.auto_domain == &d) owner.auto_domain = nullptr;
  --domains_alive_;
  owner.domains.erase(&d);
}

void System::close_entry_locked(Process& p, Handle h) {
  const HandleEntry e = *p.handles.find(h);
  p.handles.erase(h);
  if (e.revoked) return;  // the grant is gone already; closing frees the slot
  switch (e.kind) {
    case ObjectKind::Domain:
      destroy_domain_locked(static_cast<Domain&>(*e.object));
      break;
    case ObjectKind::Buffer:
      unref_buffer_locked(static_cast<Buffer&>(*e.object));
      break;
    case ObjectKind::Grant:
      close_grant_locked(p, static_cast<Grant&>(*e.object));
      break;
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
  close_entry_locked(*p, h);
  return rcOk;
}

void System::exit_locked(Process& p) {
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
  if (mutant(Mutant::GrantSurvivesExit)) {
    exit_leaving_grants_mapped_locked(p);
    return;
  }
#endif
  // Handles in increasing order; closing a domain handle revokes later grant handles, whose
  // closing then only frees the slot.
  for (Handle h : p.handles.live())
    if (p.handles.find(h) != nullptr) close_entry_locked(p, h);
  // What is left: the automatic domain (and, under the AutoDomainCreatedTwice mutant, the
  // automatic domains it orphaned).
  while (!p.domains.empty()) destroy_domain_locked(*p.domains.begin()->second);
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
