// The C API (iommu_api.h, dma.h, handle.h) and the simulation harness (sim.h): thin glue. Kn* calls
// act for the (system, pid) bound to the calling thread with KnSimBindThread.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "kniommu/iommu_api.h"
#include "kniommu/sim.h"
#include "kos/dma_h.h"
#include "kos/sim_system.h"

namespace {

struct Binding {
  KnSimSystem* system = nullptr;
  KnPid pid = 0;
};
thread_local Binding tl_binding;

// A Kn* call from a thread bound to no process, or to a process that has exited, has no caller:
// rcInvalidArgument and no effect (harness misuse; the same answer as the model's for a pid that
// is not a live process).
template <class Fn>
Retcode as_caller(Fn&& fn) {
  const Binding b = tl_binding;
  if (b.system == nullptr) return rcInvalidArgument;
  return fn(*b.system->impl, b.pid);
}

constexpr std::uint16_t kDefaultDevices[] = {0x0008, 0x0010, 0x0100, 0x0200};

}  // namespace

extern "C" {

// ---- iommu_api.h ----
Retcode KnIommuAttachDevice(uint16_t bdf) {
  return as_caller([&](auto& s, KnPid pid) { return s.attach_device(pid, bdf); });
}
Retcode KnIommuDetachDevice(uint16_t bdf) {
  return as_caller([&](auto& s, KnPid pid) { return s.detach_device(pid, bdf); });
}
Retcode KnIommuCreateDomain(Handle* outDomain) {
  return as_caller([&](auto& s, KnPid pid) { return s.create_domain(pid, outDomain); });
}
Retcode KnIommuAttachDeviceToDomain(uint16_t bdf, Handle domain) {
  return as_caller([&](auto& s, KnPid pid) { return s.attach_device_to_domain(pid, bdf, domain); });
}
Retcode KnIommuDetachDeviceFromDomain(uint16_t bdf, Handle domain) {
  return as_caller(
      [&](auto& s, KnPid pid) { return s.detach_device_from_domain(pid, bdf, domain); });
}

// ---- dma.h / handle.h ----
Retcode KnIoDmaCreate(uint32_t order, size_t size, DmaAttr flags, Handle* outRid) {
  return as_caller(
      [&](auto& s, KnPid pid) { return s.dma_create(pid, order, size, flags, outRid); });
}
Retcode KnIoDmaCreateContinuous(size_t size, DmaAttr flags, Handle* outRid) {
  return as_caller(
      [&](auto& s, KnPid pid) { return s.dma_create_continuous(pid, size, flags, outRid); });
}
Retcode KnIoDmaMap(Handle rid, size_t offset, size_t length, void* hint, int vmflags, void** addr,
                   Handle* handle) {
  return as_caller([&](auto& s, KnPid pid) {
    return s.dma_map(pid, rid, offset, length, hint, vmflags, addr, handle);
  });
}
Retcode KnIoDmaBegin(Handle rid, Handle* handle) {
  return as_caller([&](auto& s, KnPid pid) { return s.dma_begin(pid, rid, handle); });
}
Retcode KnIoDmaBeginEx(Handle rid, Handle domain, Handle* handle) {
  return as_caller([&](auto& s, KnPid pid) { return s.dma_begin_ex(pid, rid, domain, handle); });
}
Retcode KnIoDmaGetInfo(Handle rid, DmaInfo** outInfo) {
  return as_caller([&](auto& s, KnPid pid) {
    return s.dma_info(pid, rid, false, reinterpret_cast<void**>(outInfo));
  });
}
Retcode KnIoDmaGetPhysInfo(Handle rid, DmaInfo** outInfo) {
  return as_caller([&](auto& s, KnPid pid) {
    return s.dma_info(pid, rid, true, reinterpret_cast<void**>(outInfo));
  });
}
Retcode KnIoClose(Handle rid) {
  return as_caller([&](auto& s, KnPid pid) { return s.handle_close(pid, rid); });
}
Retcode KnHandleClose(Handle handle) {
  return as_caller([&](auto& s, KnPid pid) { return s.handle_close(pid, handle); });
}

// ---- sim.h ----
void KnSimDefaultConfig(KnSimConfig* config) {
  if (config == nullptr) return;
  *config = KnSimConfig{};
  config->iommu_enabled = 1;
  config->sagaw = 0x4;
  config->mgaw = 48;
  config->sllps = 0x3;
  config->caching_mode = 0;
  config->nd = 6;
  config->mamv = 18;
  config->nfr = 7;
  config->coherent = 1;
  config->iotlb_entries = 1024;
  config->context_cache_entries = 256;
  config->phys_mem_bytes = 8ull << 30;  // sparse: only touched frames cost host memory
  config->devices = kDefaultDevices;
  config->device_count = std::size(kDefaultDevices);
}

Retcode KnSimSystemCreate(const KnSimConfig* config, KnSimSystem** out) {
  if (config == nullptr || out == nullptr) return rcInvalidArgument;
  std::unique_ptr<kniommu::kos::System> impl;
  if (Retcode rc = kniommu::kos::System::create(*config, &impl); rc != rcOk) return rc;
  *out = new KnSimSystem{std::move(impl)};
  return rcOk;
}

void KnSimSystemDestroy(KnSimSystem* system) {
  if (tl_binding.system == system) tl_binding = Binding{};
  delete system;
}

Retcode KnSimProcessCreate(KnSimSystem* system, KnPid* out) {
  if (system == nullptr) return rcInvalidArgument;
  return system->impl->process_create(out);
}

Retcode KnSimProcessExit(KnSimSystem* system, KnPid pid) {
  if (system == nullptr) return rcInvalidArgument;
  return system->impl->process_exit(pid);
}

Retcode KnSimBindThread(KnSimSystem* system, KnPid pid) {
  if (pid == 0) {
    tl_binding = Binding{};
    return rcOk;
  }
  if (system == nullptr) return rcInvalidArgument;
  tl_binding = Binding{system, pid};
  return rcOk;
}

Retcode KnSimDeviceDma(KnSimSystem* system, uint16_t bdf, uint64_t iova, void* data, size_t len,
                       int is_write, uint8_t* fault_reason) {
  if (system == nullptr) return rcInvalidArgument;
  return system->impl->hardware().device_dma(bdf, iova, data, len, is_write != 0, fault_reason);
}

Retcode KnSimVmRead(KnSimSystem* system, KnPid pid, uint64_t va, void* out, size_t len) {
  if (system == nullptr) return rcInvalidArgument;
  return system->impl->vm_access(pid, va, out, len, false);
}

Retcode KnSimVmWrite(KnSimSystem* system, KnPid pid, uint64_t va, const void* in, size_t len) {
  if (system == nullptr) return rcInvalidArgument;
  return system->impl->vm_access(pid, va, const_cast<void*>(in), len, true);
}

uint64_t KnSimReadReg64(KnSimSystem* system, uint32_t offset) {
  return system != nullptr ? system->impl->read_reg64(offset) : 0;
}

Retcode KnSimPhysRead(KnSimSystem* system, uint64_t pa, void* out, size_t len) {
  if (system == nullptr) return rcInvalidArgument;
  return system->impl->hardware().phys_read(pa, out, len);
}

uint64_t KnSimPhysFrameGeneration(KnSimSystem* system, uint64_t frame_pa) {
  return system != nullptr ? system->impl->hardware().phys_frame_generation(frame_pa) : 0;
}

Retcode KnSimCacheSnapshot(KnSimSystem* system, KnSimCacheEntry* out, size_t capacity,
                           size_t* count) {
  if (system == nullptr) return rcInvalidArgument;
  return system->impl->hardware().cache_snapshot(out, capacity, count);
}

uint64_t KnSimUseAfterFreeCount(KnSimSystem* system) {
  return system != nullptr ? system->impl->hardware().use_after_free_count() : 0;
}

uint64_t KnSimFramesInUse(KnSimSystem* system) {
  return system != nullptr ? system->impl->hardware().frames_in_use() : 0;
}

uint32_t KnSimReadReg32(KnSimSystem* system, uint32_t offset) {
  if (system == nullptr) return 0;
  kniommu::vtd::Mmio* mmio = system->impl->hardware().mmio();
  return mmio != nullptr ? mmio->read32(offset) : 0;
}

void KnSimWriteReg32(KnSimSystem* system, uint32_t offset, uint32_t value) {
  if (system == nullptr) return;
  if (kniommu::vtd::Mmio* mmio = system->impl->hardware().mmio()) mmio->write32(offset, value);
}

void KnSimWriteReg64(KnSimSystem* system, uint32_t offset, uint64_t value) {
  if (system == nullptr) return;
  if (kniommu::vtd::Mmio* mmio = system->impl->hardware().mmio()) mmio->write64(offset, value);
}

uint64_t KnSimProtocolViolationCount(KnSimSystem* system) {
  return system != nullptr ? system->impl->hardware().protocol_violation_count() : 0;
}

size_t KnSimProtocolViolationLog(KnSimSystem* system, char* out, size_t capacity) {
  if (system == nullptr) return 0;
  const std::string log = system->impl->hardware().protocol_violation_log();
  if (out != nullptr && capacity != 0) {
    const size_t n = std::min(capacity - 1, log.size());
    std::memcpy(out, log.data(), n);
    out[n] = '\0';
  }
  return log.size();
}

}  // extern "C"
