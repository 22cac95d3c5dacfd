// Step functions of processes, domains, attachments and KnHandleClose
// (docs/semantics.md "IOMMU calls", "Destruction and revocation").
#include "model/internal.h"

namespace kniommu::model {

using detail::fail;

Result process_create(State& s) {
  const Pid pid = s.next_pid++;
  s.processes.emplace(pid, Process{});
  Result r;
  r.pid = pid;
  return r;
}

Result process_exit(State& s, Pid pid) {
  Process* p = detail::live_process(s, pid);
  if (p == nullptr) {
    return fail(rcInvalidArgument);
  }
  // Every handle is closed in increasing handle order. Closing a domain handle may revoke later
  // grant handles; closing those then only frees their slots.
  while (!p->handles.empty()) {
    handle_close(s, pid, p->handles.begin()->first);
  }
  if (p->auto_domain) {
    detail::destroy_domain(s, *p->auto_domain);
  }
  p->alive = false;
  return Result{};
}

namespace {
// The common prefix of the four attach/detach calls: a live caller; for the ...Domain forms
// (`domain_handle` set) the domain handle checks; IOMMU disabled (rcOk and nothing to do: *caller
// stays null); a known BDF. On rcOk with *caller set the call goes on; *domain is the domain named
// by the handle.
Result attach_prefix(State& s, Pid pid, Bdf bdf, std::optional<Handle> domain_handle,
                     Process** caller, std::optional<DomainSerial>* domain) {
  Process* p = detail::live_process(s, pid);
  if (p == nullptr) {
    return fail(rcInvalidArgument);
  }
  const HandleEntry* e = nullptr;
  if (domain_handle) {
    if (const Retcode rc = detail::resolve(*p, *domain_handle, {Kind::Domain}, &e); rc != rcOk) {
      return fail(rc);
    }
    *domain = e->object;
  }
  if (!s.config.iommu_enabled) {
    return Result{};
  }
  if (!device_known(s, bdf)) {
    return fail(rcDeviceNotFound);
  }
  *caller = p;
  return Result{};
}
}  // namespace

Result attach_device(State& s, Pid pid, Bdf bdf, bool out_of_memory) {
  Process* p = nullptr;
  std::optional<DomainSerial> unused;
  if (Result r = attach_prefix(s, pid, bdf, std::nullopt, &p, &unused); r.rc != rcOk || !p) {
    return r;
  }
  const std::optional<DomainSerial> att = attachment(s, bdf);
  if (att && att == p->auto_domain) {
    return fail(rcAlreadyExists);
  }
  if (att) {
    return fail(rcBusy);
  }
  const bool needs_domain = !p->auto_domain;
  if (out_of_memory || (needs_domain && live_domain_count(s) >= s.config.max_domains)) {
    return fail(rcOutOfMemory);
  }
  if (needs_domain) {
    p->auto_domain = s.next_domain++;
    s.domains.emplace(*p->auto_domain, Domain{pid, true, {}});
  }
  p->attached_once = true;
  s.domains.at(*p->auto_domain).devices.insert(bdf);
  return Result{};
}

Result detach_device(State& s, Pid pid, Bdf bdf) {
  Process* p = nullptr;
  std::optional<DomainSerial> unused;
  if (Result r = attach_prefix(s, pid, bdf, std::nullopt, &p, &unused); r.rc != rcOk || !p) {
    return r;
  }
  if (!p->auto_domain || attachment(s, bdf) != p->auto_domain) {
    return fail(rcResourceNotFound);
  }
  s.domains.at(*p->auto_domain).devices.erase(bdf);  // the automatic domain stays until exit
  return Result{};
}

Result create_domain(State& s, Pid pid, bool out_of_memory) {
  Process* p = detail::live_process(s, pid);
  if (p == nullptr) {
    return fail(rcInvalidArgument);
  }
  if (out_of_memory || live_domain_count(s) >= s.config.max_domains) {
    return fail(rcOutOfMemory);
  }
  const DomainSerial d = s.next_domain++;
  s.domains.emplace(d, Domain{pid, false, {}});
  Result r;
  r.handle = detail::add_handle(*p, HandleEntry{Kind::Domain, d});
  return r;
}

Result attach_device_to_domain(State& s, Pid pid, Bdf bdf, Handle domain, bool out_of_memory) {
  Process* p = nullptr;
  std::optional<DomainSerial> d;
  if (Result r = attach_prefix(s, pid, bdf, domain, &p, &d); r.rc != rcOk || !p) {
    return r;
  }
  const std::optional<DomainSerial> att = attachment(s, bdf);
  if (att == d) {
    return fail(rcAlreadyExists);
  }
  if (att) {
    return fail(rcBusy);
  }
  if (out_of_memory) {
    return fail(rcOutOfMemory);
  }
  s.domains.at(*d).devices.insert(bdf);
  return Result{};
}

Result detach_device_from_domain(State& s, Pid pid, Bdf bdf, Handle domain) {
  Process* p = nullptr;
  std::optional<DomainSerial> d;
  if (Result r = attach_prefix(s, pid, bdf, domain, &p, &d); r.rc != rcOk || !p) {
    return r;
  }
  if (attachment(s, bdf) != d) {
    return fail(rcResourceNotFound);
  }
  s.domains.at(*d).devices.erase(bdf);
  return Result{};
}

Result handle_close(State& s, Pid pid, Handle h) {
  Process* p = detail::live_process(s, pid);
  if (p == nullptr) {
    return fail(rcInvalidArgument);
  }
  const auto it = p->handles.find(h);
  if (it == p->handles.end()) {
    return fail(rcInvalidArgument);
  }
  const HandleEntry e = it->second;
  p->handles.erase(it);
  if (e.revoked) {
    return Result{};  // the grant is already gone; closing frees the slot
  }
  switch (e.kind) {
    case Kind::Domain:
      detail::destroy_domain(s, e.object);
      break;
    case Kind::Buffer:
      detail::release_if_unreferenced(s, e.object);
      break;
    case Kind::Grant: {
      const BufferId b = s.grants.at(e.object).buffer;
      s.grants.erase(e.object);
      detail::release_if_unreferenced(s, b);
      break;
    }
    case Kind::Mapping: {
      const BufferId b = s.mappings.at(e.object).buffer;
      s.mappings.erase(e.object);
      detail::release_if_unreferenced(s, b);
      break;
    }
  }
  return Result{};
}

}  // namespace kniommu::model
