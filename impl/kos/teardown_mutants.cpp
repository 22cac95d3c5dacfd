// The GrantSurvivesExit mutant's process exit (issue 15: deliberate bugs exist only in the test
// variant kniommu_kos_mutants; in the production library this file compiles to nothing).
// Modelled on exit paths that drop a process's bookkeeping but forget to unmap what its domains
// still map: every domain's devices are detached, but its grants stay mapped, its DID is released
// without the domain-selective invalidation, and the grants' buffers are never released (a device
// of the next domain that reuses the DID still hits the stale IOTLB entries).
#include "common/mutation.h"
#include "kos/system.h"

#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS

namespace kniommu::kos {

void System::exit_leaving_grants_mapped_locked(Process& p) {
  while (!p.domains.empty()) {
    auto node = p.domains.extract(p.domains.begin());
    Domain& d = *node.mapped();
    while (!d.devices().empty()) detach_locked(d, *d.devices().begin(), false);
    for (Grant* g : d.abandon()) {
      p.handles.revoke(g->handle);
      g->buffer->grants.erase(&d);
      p.grants.erase(g);  // the buffer keeps the grant's reference: it is never freed
    }
    if (d.handle != INVALID_HANDLE) p.handles.revoke(d.handle);
    --domains_alive_;
    mutant_leftover_domains_.push_back(std::move(node.mapped()));
  }
  p.auto_domain = nullptr;
  // The rest (buffers, mappings, revoked slots, domain-less grants) closes as usual.
  for (Handle h : p.handles.live())
    if (p.handles.find(h) != nullptr) close_entry_locked(p, h);
  processes_.erase(p.pid);
}

}  // namespace kniommu::kos

#endif
