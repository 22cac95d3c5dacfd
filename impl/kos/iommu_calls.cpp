// iommu_api.h: attach / detach (automatic domain), created domains. Check order as in
// docs/semantics.md "IOMMU calls"; every fallible allocation happens before anything is committed.
// What a domain programs (DID, table, context entries) is Domain's; this file keeps the process,
// handle and attachment bookkeeping.
#include "common/mutation.h"
#include "kos/system.h"

namespace kniommu::kos {

Retcode System::new_domain_locked(Process& p, bool automatic, std::unique_ptr<Domain>* out) {
  if (domains_alive_ >= max_domains_) return rcOutOfMemory;
  return Domain::create(p, automatic, driver_.get(), hw_->mem(), pt_config_, out);
}

Retcode System::attach_locked(Domain& d, std::uint16_t bdf) {
  if (Retcode rc = d.attach(bdf); rc != rcOk) return rc;
  attachment_[bdf] = &d;
  return rcOk;
}

void System::detach_locked(Domain& d, std::uint16_t bdf, bool flush_iotlb) {
  d.detach(bdf, flush_iotlb);
  attachment_[bdf] = nullptr;
}

// The prologue of AttachDevice/DetachDevice (checks 1-2, docs/semantics.md "IOMMU calls"): the
// caller is a live process, then with the IOMMU disabled there is nothing to do (rcOk), then the
// device exists. `fn(process, current domain of the device or nullptr)` runs under the lock.
template <class Fn>
Retcode System::device_call(KnPid pid, std::uint16_t bdf, Fn&& fn) {
  std::lock_guard lock(mu_);
  Process* p = process_locked(pid);
  if (p == nullptr) return rcInvalidArgument;
  if (driver_ == nullptr) return rcOk;
  const auto dev = attachment_.find(bdf);
  if (dev == attachment_.end()) return rcDeviceNotFound;
  return fn(*p, dev->second);
}

Retcode System::attach_device(KnPid pid, std::uint16_t bdf) {
  return device_call(pid, bdf, [&](Process& p, Domain* current) -> Retcode {
    const bool reuse_auto = p.auto_domain != nullptr && !mutant(Mutant::AutoDomainCreatedTwice);
    if (current != nullptr && current == p.auto_domain) return rcAlreadyExists;
    if (current != nullptr && !mutant(Mutant::DeviceAttachedTwice)) return rcBusy;

    std::unique_ptr<Domain> fresh;
    if (!reuse_auto) {
      if (Retcode rc = new_domain_locked(p, true, &fresh); rc != rcOk) return rc;
    }
    Domain& target = reuse_auto ? *p.auto_domain : *fresh;
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
    // DeviceAttachedTwice mutant: the old domain is not told; the context entry is overwritten.
    if (current != nullptr) current->forget_device(bdf);
#endif
    if (Retcode rc = attach_locked(target, bdf); rc != rcOk) {
      if (fresh) fresh->discard_unused();
      return rc;
    }
    if (fresh) {
      p.auto_domain = fresh.get();
      p.domains.emplace(fresh.get(), std::move(fresh));
      ++domains_alive_;
    }
    return rcOk;
  });
}

Retcode System::detach_device(KnPid pid, std::uint16_t bdf) {
  return device_call(pid, bdf, [&](Process& p, Domain* current) -> Retcode {
    if (p.auto_domain == nullptr || current != p.auto_domain) return rcResourceNotFound;
    detach_locked(*p.auto_domain, bdf);
    return rcOk;
  });
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
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
  if (current != nullptr) current->forget_device(bdf);  // DeviceAttachedTwice mutant only
#endif
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
