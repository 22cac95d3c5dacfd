// The built-in adapter: forwards every table entry to the kniommu C API and the simulation
// harness. The API acts on behalf of the process bound to the calling thread, so each call binds
// the thread to the requested pid first; binding is per thread, so concurrent calls for different
// pids from different threads (the linearizability check) do not interfere.
//
// Compiled twice: into the static library kniommu_builtin_adapter, and into the shared library
// kniommu_example_adapter with KNIOMMU_ADAPTER_EXPORT_ENTRY, which also exports the ABI entry
// point kniommu_adapter_v1 so the .so can be loaded like any third-party adapter.
#include <cstdlib>
#include <new>
#include <optional>
#include <string_view>

#include "common/mutation.h"
#include "kniommu/adapter.h"  // includes kniommu/dma.h without the pedantic warning
#include "kniommu/builtin_adapter.h"
#include "kniommu/iommu_api.h"
#include "kniommu/sim.h"

struct KnAdapterSession {
  KnSimSystem* system;
};

namespace {

// Binds the calling thread to `pid` of the session's system; the API call follows.
Retcode bind(KnAdapterSession* s, KnPid pid) { return KnSimBindThread(s->system, pid); }

Retcode system_create(const KnSimConfig* config, KnAdapterSession** out) {
  if (config == nullptr || out == nullptr) return rcInvalidArgument;
  auto* session = new (std::nothrow) KnAdapterSession{nullptr};
  if (session == nullptr) return rcOutOfMemory;
  const Retcode rc = KnSimSystemCreate(config, &session->system);
  if (rc != rcOk) {
    delete session;
    return rc;
  }
  *out = session;
  return rcOk;
}

void system_destroy(KnAdapterSession* s) {
  if (s == nullptr) return;
  KnSimBindThread(s->system, 0);
  KnSimSystemDestroy(s->system);
  delete s;
}

Retcode process_create(KnAdapterSession* s, KnPid* out) {
  return KnSimProcessCreate(s->system, out);
}
Retcode process_exit(KnAdapterSession* s, KnPid pid) { return KnSimProcessExit(s->system, pid); }

Retcode device_dma(KnAdapterSession* s, uint16_t bdf, uint64_t iova, void* data, size_t len,
                   int is_write, uint8_t* fault_reason) {
  return KnSimDeviceDma(s->system, bdf, iova, data, len, is_write, fault_reason);
}
Retcode vm_read(KnAdapterSession* s, KnPid pid, uint64_t va, void* out, size_t len) {
  return KnSimVmRead(s->system, pid, va, out, len);
}
Retcode vm_write(KnAdapterSession* s, KnPid pid, uint64_t va, const void* in, size_t len) {
  return KnSimVmWrite(s->system, pid, va, in, len);
}
uint64_t read_reg64(KnAdapterSession* s, uint32_t offset) {
  return KnSimReadReg64(s->system, offset);
}
Retcode phys_read(KnAdapterSession* s, uint64_t pa, void* out, size_t len) {
  return KnSimPhysRead(s->system, pa, out, len);
}
uint64_t phys_frame_generation(KnAdapterSession* s, uint64_t frame_pa) {
  return KnSimPhysFrameGeneration(s->system, frame_pa);
}
Retcode cache_snapshot(KnAdapterSession* s, KnSimCacheEntry* out, size_t capacity, size_t* count) {
  return KnSimCacheSnapshot(s->system, out, capacity, count);
}
uint64_t use_after_free_count(KnAdapterSession* s) { return KnSimUseAfterFreeCount(s->system); }
uint64_t frames_in_use(KnAdapterSession* s) { return KnSimFramesInUse(s->system); }

// Every API entry: bind, then call; a failed bind is reported as the call's result.
#define KN_AS(pid, call)                   \
  do {                                     \
    const Retcode bound = bind(s, (pid));  \
    return bound != rcOk ? bound : (call); \
  } while (0)

Retcode attach_device(KnAdapterSession* s, KnPid pid, uint16_t bdf) {
  KN_AS(pid, KnIommuAttachDevice(bdf));
}
Retcode detach_device(KnAdapterSession* s, KnPid pid, uint16_t bdf) {
  KN_AS(pid, KnIommuDetachDevice(bdf));
}
Retcode create_domain(KnAdapterSession* s, KnPid pid, Handle* out) {
  KN_AS(pid, KnIommuCreateDomain(out));
}
Retcode attach_to_domain(KnAdapterSession* s, KnPid pid, uint16_t bdf, Handle domain) {
  KN_AS(pid, KnIommuAttachDeviceToDomain(bdf, domain));
}
Retcode detach_from_domain(KnAdapterSession* s, KnPid pid, uint16_t bdf, Handle domain) {
  KN_AS(pid, KnIommuDetachDeviceFromDomain(bdf, domain));
}
Retcode dma_create(KnAdapterSession* s, KnPid pid, uint32_t order, size_t size, DmaAttr flags,
                   Handle* out) {
  KN_AS(pid, KnIoDmaCreate(order, size, flags, out));
}
Retcode dma_create_continuous(KnAdapterSession* s, KnPid pid, size_t size, DmaAttr flags,
                              Handle* out) {
  KN_AS(pid, KnIoDmaCreateContinuous(size, flags, out));
}
Retcode dma_map(KnAdapterSession* s, KnPid pid, Handle rid, size_t offset, size_t length,
                void* hint, int vmflags, void** addr, Handle* handle) {
  KN_AS(pid, KnIoDmaMap(rid, offset, length, hint, vmflags, addr, handle));
}
Retcode dma_begin(KnAdapterSession* s, KnPid pid, Handle rid, Handle* handle) {
  KN_AS(pid, KnIoDmaBegin(rid, handle));
}
Retcode dma_begin_ex(KnAdapterSession* s, KnPid pid, Handle rid, Handle domain, Handle* handle) {
  KN_AS(pid, KnIoDmaBeginEx(rid, domain, handle));
}
Retcode dma_get_info(KnAdapterSession* s, KnPid pid, Handle rid, DmaInfo** out) {
  KN_AS(pid, KnIoDmaGetInfo(rid, out));
}
Retcode dma_get_phys_info(KnAdapterSession* s, KnPid pid, Handle rid, DmaInfo** out) {
  KN_AS(pid, KnIoDmaGetPhysInfo(rid, out));
}
void free_info(DmaInfo* info) { std::free(info); }
Retcode io_close(KnAdapterSession* s, KnPid pid, Handle rid) { KN_AS(pid, KnIoClose(rid)); }
Retcode handle_close(KnAdapterSession* s, KnPid pid, Handle h) { KN_AS(pid, KnHandleClose(h)); }

#undef KN_AS

#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
// Only the test variant (kniommu_builtin_adapter_mutants) has mutants to select; the production
// adapter's table has no select_mutant.
Retcode select_mutant(const char* name) {
  if (name == nullptr || *name == '\0') {
    kniommu::set_active_mutant(kniommu::Mutant::None);
    return rcOk;
  }
  const std::optional<kniommu::Mutant> m = kniommu::mutant_from_name(std::string_view(name));
  if (!m) return rcInvalidArgument;
  kniommu::set_active_mutant(*m);
  return rcOk;
}
#define KNIOMMU_SELECT_MUTANT select_mutant
#else
#define KNIOMMU_SELECT_MUTANT nullptr
#endif

uint32_t read_reg32(KnAdapterSession* s, uint32_t offset) {
  return KnSimReadReg32(s->system, offset);
}
void write_reg32(KnAdapterSession* s, uint32_t offset, uint32_t value) {
  KnSimWriteReg32(s->system, offset, value);
}
void write_reg64(KnAdapterSession* s, uint32_t offset, uint64_t value) {
  KnSimWriteReg64(s->system, offset, value);
}
uint64_t protocol_violation_count(KnAdapterSession* s) {
  return KnSimProtocolViolationCount(s->system);
}
size_t protocol_violation_log(KnAdapterSession* s, char* out, size_t capacity) {
  return KnSimProtocolViolationLog(s->system, out, capacity);
}

constexpr KnAdapterV1 kAdapter = {
    KN_ADAPTER_ABI_VERSION,
    sizeof(KnAdapterV1),
    "kniommu",
    system_create,
    system_destroy,
    process_create,
    process_exit,
    device_dma,
    vm_read,
    vm_write,
    read_reg64,
    phys_read,
    cache_snapshot,
    use_after_free_count,
    frames_in_use,
    attach_device,
    detach_device,
    create_domain,
    attach_to_domain,
    detach_from_domain,
    dma_create,
    dma_create_continuous,
    dma_map,
    dma_begin,
    dma_begin_ex,
    dma_get_info,
    dma_get_phys_info,
    free_info,
    io_close,
    handle_close,
    KNIOMMU_SELECT_MUTANT,
    read_reg32,
    write_reg32,
    write_reg64,
    protocol_violation_count,
    protocol_violation_log,
    phys_frame_generation,
};

}  // namespace

extern "C" const KnAdapterV1* kniommu_builtin_adapter(void) { return &kAdapter; }

#ifdef KNIOMMU_ADAPTER_EXPORT_ENTRY
extern "C" __attribute__((visibility("default"))) const KnAdapterV1* kniommu_adapter_v1(void) {
  return &kAdapter;
}
#endif
