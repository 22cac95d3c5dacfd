// System construction and teardown, processes, the CPU view of mappings, and the state digest.
#include "kos/system.h"

#include <algorithm>

#include "common/failpoint.h"
#include "kos/dma_h.h"

namespace kniommu::kos {

System::System(const KnSimConfig& config, std::unique_ptr<Hardware> hw)
    : config_(config), hw_(std::move(hw)) {
  config_.devices = nullptr;  // the caller's array need not outlive the call
  for (std::size_t i = 0; i < config.device_count; ++i)
    attachment_.emplace(config.devices[i], nullptr);
  const std::uint32_t nd = std::min<std::uint32_t>(config.nd, 6);
  max_domains_ = (1u << (4 + 2 * nd)) - 1;  // DID 0 is reserved
}

Retcode System::create(const KnSimConfig& config, std::unique_ptr<System>* out) {
  if (out == nullptr || (config.device_count > 0 && config.devices == nullptr))
    return rcInvalidArgument;
  std::unique_ptr<Hardware> hw;
  if (Retcode rc = Hardware::create(config, &hw); rc != rcOk) return rc;
  std::unique_ptr<System> s(new System(config, std::move(hw)));
  if (vtd::Mmio* mmio = s->hw_->mmio(); mmio != nullptr) {
    s->driver_ = std::make_unique<vtd::driver::RemappingDriver>(*mmio, s->hw_->mem());
    if (Retcode rc = s->driver_->init(); rc != rcOk) return rc;
    s->pt_config_ = vtd::PageTableConfig::from_caps(vtd::CapReg::from(mmio->read64(vtd::kRegCap)),
                                                    vtd::EcapReg::from(mmio->read64(vtd::kRegEcap)),
                                                    s->hw_->host_address_width());
    s->max_domains_ = std::min(s->max_domains_, s->driver_->dids().capacity());
    // Context tables for every bus that has a device, at enumeration time (as a kernel does when
    // it enumerates the bus): an unattached device then faults on its context entry (0x2,
    // docs/semantics.md "can_access") instead of on a missing root entry (0x1).
    for (const auto& [bdf, domain] : s->attachment_)
      if (Retcode rc = s->driver_->prepare_attach(bdf); rc != rcOk) return rc;
  }
  *out = std::move(s);
  return rcOk;
}

System::~System() {
  std::lock_guard lock(mu_);
  while (!processes_.empty()) exit_locked(*processes_.begin()->second);
  driver_.reset();  // translation off, then root/context tables and the queue are freed
}

Process* System::process_locked(KnPid pid) {
  const auto it = processes_.find(pid);
  return it == processes_.end() ? nullptr : it->second.get();
}

Retcode System::process_create(KnPid* out) {
  if (out == nullptr) return rcInvalidArgument;
  std::lock_guard lock(mu_);
  if (failpoint_hit()) return rcOutOfMemory;
  const KnPid pid = next_pid_++;
  processes_.emplace(pid, std::make_unique<Process>(pid));
  *out = pid;
  return rcOk;
}

Retcode System::vm_access(KnPid pid, std::uint64_t va, void* data, std::size_t len, bool is_write) {
  if (data == nullptr && len != 0) return rcInvalidArgument;
  std::lock_guard lock(mu_);
  Process* p = process_locked(pid);
  if (p == nullptr) return rcInvalidArgument;
  // The mapping containing `va`: the last one starting at or below it.
  auto it = p->mappings.upper_bound(va);
  if (it == p->mappings.begin()) return rcInvalidArgument;
  const Mapping& m = *std::prev(it)->second;
  if (va - m.va > m.length || len > m.length - (va - m.va)) return rcInvalidArgument;
  if ((m.vmflags & (is_write ? VMM_FLAG_WRITE : VMM_FLAG_READ)) == 0) return rcInvalidArgument;
  auto* bytes = static_cast<unsigned char*>(data);
  std::uint64_t pos = m.offset + (va - m.va);  // byte offset in the buffer's footprint
  while (len > 0) {
    const std::uint64_t in_page = pos % 4096;
    const std::size_t chunk =
        static_cast<std::size_t>(std::min<std::uint64_t>(len, 4096 - in_page));
    const vtd::PhysAddr pa = m.buffer->page_pa(pos / 4096) + in_page;
    if (is_write)
      hw_->mem().write(pa, bytes, chunk);
    else
      hw_->mem().read(pa, bytes, chunk);
    bytes += chunk;
    pos += chunk;
    len -= chunk;
  }
  return rcOk;
}

std::uint64_t System::read_reg64(std::uint32_t offset) {
  vtd::Mmio* mmio = hw_->mmio();
  return mmio != nullptr ? mmio->read64(offset) : 0;
}

}  // namespace kniommu::kos
