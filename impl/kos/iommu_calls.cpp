// iommu_api.h: attach / detach (automatic domain), created domains. Check order as in
// docs/semantics.md "IOMMU calls"; every fallible allocation happens before anything is committed.
#include "common/failpoint.h"
#include "common/mutation.h"
#include "kos/system.h"

namespace kniommu::kos {

Retcode System::new_domain_locked(Process& p, bool automatic, std::unique_ptr<Domain>* out) {
  if (domains_alive_ >= max_domains_) return rcOutOfMemory;
  if (failpoint_hit()) return rcOutOfMemory;  // the domain node
  auto d = std::make_unique<Domain>(&p, automatic, iova_limit_locked());
  if (driver_ != nullptr) {
    if (Retcode rc = driver_->allocate_did(&d->did); rc != rcOk) return rc;
    if (Retcode rc = DomainPageTable::create(hw_->mem(), pt_config_, &d->table); rc != rcOk) {
      driver_->release_unused_did(d->did);  // never programmed anywhere: no invalidation needed
      return rc;
    }
  }
  *out = std::move(d);
  return rcOk;
}

void System::discard_new_domain_locked(std::unique_ptr<Domain> d) {
  // Rollback of a domain that never reached a context entry and maps nothing: its (empty) table
  // was never walked, so it can be freed at once and its DID returned without an invalidation.
  if (driver_ != nullptr) driver_->release_unused_did(d->did);
  d.reset();
}

Retcode System::attach_locked(Domain& d, std::uint16_t bdf) {
  if (Retcode rc = driver_->prepare_attach(bdf); rc != rcOk) return rc;
  driver_->attach(bdf, d.did, d.table->root());
  d.devices.insert(bdf);
  attachment_[bdf] = &d;
  return rcOk;
}

void System::detach_locked(Domain& d, std::uint16_t bdf, bool flush_iotlb) {
  driver_->detach(bdf, d.did, flush_iotlb);
  d.devices.erase(bdf);
  attachment_[bdf] = nullptr;
}

Retcode System::attach_device(KnPid pid, std::uint16_t bdf) {
  std::lock_guard lock(mu_);
  Process* p = process_locked(pid);
  if (p == nullptr) return rcInvalidArgument;
  if (driver_ == nullptr) return rcOk;
  const auto dev = attachment_.find(bdf);
  if (dev == attachment_.end()) return rcDeviceNotFound;
  Domain* current = dev->second;
  const bool reuse_auto = p->auto_domain != nullptr && !mutant(Mutant::AutoDomainCreatedTwice);
  if (current != nullptr && current == p->auto_domain) return rcAlreadyExists;
  if (current != nullptr && !mutant(Mutant::DeviceAttachedTwice)) return rcBusy;

  std::unique_ptr<Domain> fresh;
  if (!reuse_auto) {
    if (Retcode rc = new_domain_locked(*p, true, &fresh); rc != rcOk) return rc;
  }
  Domain& target = reuse_auto ? *p->auto_domain : *fresh;
  if (current != nullptr) {
    // DeviceAttachedTwice mutant: the old domain is not told; the context entry is overwritten.
    current->devices.erase(bdf);
  }
  if (Retcode rc = attach_locked(target, bdf); rc != rcOk) {
    if (fresh) discard_new_domain_locked(std::move(fresh));
    return rc;
  }
  if (fresh) {
    p->auto_domain = fresh.get();
    p->domains.emplace(fresh.get(), std::move(fresh));
    ++domains_alive_;
  }
  return rcOk;
}

Retcode System::detach_device(KnPid pid, std::uint16_t bdf) {
  std::lock_guard lock(mu_);
  Process* p = process_locked(pid);
  if (p == nullptr) return rcInvalidArgument;
  if (driver_ == nullptr) return rcOk;
  const auto dev = attachment_.find(bdf);
  if (dev == attachment_.end()) return rcDeviceNotFound;
  if (p->auto_domain == nullptr || dev->second != p->auto_domain) return rcResourceNotFound;
  detach_locked(*p->auto_domain, bdf);
  return rcOk;
}

Retcode System::create_domain(KnPid pid, Handle* out) {
  if (out == nullptr) return rcInvalidArgument;
  std::lock_guard lock(mu_);
  Process* p = process_locked(pid);
  if (p == nullptr) return rcInvalidArgument;
  if (Retcode rc = p->handles.reserve(); rc != rcOk) return rc;
  std::unique_ptr<Domain> d;
  if (Retcode rc = new_domain_locked(*p, false, &d); rc != rcOk) return rc;
  d->handle = p->handles.insert(ObjectKind::Domain, d.get());
  *out = d->handle;
  p->domains.emplace(d.get(), std::move(d));
  ++domains_alive_;
  return rcOk;
}

Retcode System::domain_call_prefix_locked(KnPid pid, std::uint16_t bdf, Handle domain, Domain** d) {
  *d = nullptr;
  Process* p = process_locked(pid);
  if (p == nullptr) return rcInvalidArgument;
  Object* obj = nullptr;
  if (Retcode rc = p->handles.resolve(domain, ObjectKind::Domain, &obj); rc != rcOk) return rc;
  if (driver_ == nullptr) return rcOk;  // IOMMU disabled: nothing to do, *d stays null
  if (!attachment_.contains(bdf)) return rcDeviceNotFound;
  *d = static_cast<Domain*>(obj);
  return rcOk;
}

Retcode System::attach_device_to_domain(KnPid pid, std::uint16_t bdf, Handle domain) {
  std::lock_guard lock(mu_);
  Domain* d = nullptr;
  if (Retcode rc = domain_call_prefix_locked(pid, bdf, domain, &d); rc != rcOk || d == nullptr)
    return rc;
  Domain* current = attachment_[bdf];
  if (current == d) return rcAlreadyExists;
  if (current != nullptr && !mutant(Mutant::DeviceAttachedTwice)) return rcBusy;
  if (Retcode rc = driver_->prepare_attach(bdf); rc != rcOk) return rc;
  if (current != nullptr) current->devices.erase(bdf);  // DeviceAttachedTwice mutant only
  return attach_locked(*d, bdf);
}

Retcode System::detach_device_from_domain(KnPid pid, std::uint16_t bdf, Handle domain) {
  std::lock_guard lock(mu_);
  Domain* d = nullptr;
  if (Retcode rc = domain_call_prefix_locked(pid, bdf, domain, &d); rc != rcOk || d == nullptr)
    return rc;
  if (attachment_[bdf] != d) return rcResourceNotFound;
  detach_locked(*d, bdf);
  return rcOk;
}

}  // namespace kniommu::kos
