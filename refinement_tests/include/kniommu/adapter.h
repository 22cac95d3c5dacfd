/* The conformance adapter ABI, version 1: how the kniommu conformance suite drives an
 * implementation of the KasperskyOS IOMMU API. Full description: docs/adapter.md.
 *
 * An adapter is a table of plain C function pointers. The suite never calls Kn* symbols directly:
 * it calls them through this table, so the same suite checks kniommu's own implementation (the
 * built-in adapter) and any other implementation packaged as a shared library that exports
 *
 *     const KnAdapterV1 *kniommu_adapter_v1(void);
 *
 * Rules every adapter follows:
 *  - No exceptions and no longjmp across the table; every error is a Retcode.
 *  - Every API call takes the session (one simulated machine) and the pid of the calling process
 *    explicitly; the adapter makes the call "as" that process (kniommu binds the calling thread).
 *    Calls for different pids may come from different threads at the same time (the
 *    linearizability check does this); calls for one session never outlive system_destroy.
 *  - Out-parameters, BDF encoding, handle values, DmaInfo layout and every Retcode are exactly
 *    those of impl/include/kniommu/{iommu_api,dma,handle,retcode}.h and docs/semantics.md.
 *  - The inspection calls (read_reg64, phys_read, cache_snapshot) expose only what hardware could
 *    see: VT-d registers, bytes of physical memory, and the contents of the remapping unit's
 *    context cache and IOTLB. The suite rebuilds the abstract state from them alone.
 *  - A table's abi_version is KN_ADAPTER_ABI_VERSION and struct_size is sizeof(KnAdapterV1) of the
 *    header the adapter was compiled with; the suite refuses tables it does not understand.
 *  - Optional entries (marked so) may be NULL. */
#ifndef KNIOMMU_ADAPTER_H
#define KNIOMMU_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

/* dma.h declares DmaFrameDescriptor with an anonymous struct, as the KasperskyOS header does: valid
 * C11, a pedantic warning in ISO C++. */
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#endif
#include "kniommu/dma.h"
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#include "kniommu/handle.h"
#include "kniommu/retcode.h"
#include "kniommu/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KN_ADAPTER_ABI_VERSION 1u
/* Name of the symbol a shared-library adapter exports (for dlsym). */
#define KN_ADAPTER_ENTRY_SYMBOL "kniommu_adapter_v1"

/* One simulated machine, owned by the adapter (opaque to the suite). */
typedef struct KnAdapterSession KnAdapterSession;

typedef struct KnAdapterV1 {
  uint32_t abi_version; /* KN_ADAPTER_ABI_VERSION */
  uint32_t struct_size; /* sizeof(KnAdapterV1) */
  const char* name;     /* short human-readable name, e.g. "kniommu" */

  /* ---- harness: machine, processes, devices, CPU mappings ---- */
  /* Creates a machine for `config` (see sim.h). rcInvalidArgument for a configuration the
   * adapter cannot model; the suite then reports that configuration as unsupported. */
  Retcode (*system_create)(const KnSimConfig* config, KnAdapterSession** out);
  void (*system_destroy)(KnAdapterSession* session);
  Retcode (*process_create)(KnAdapterSession* session, KnPid* out);
  /* Tears the process down (docs/semantics.md "Process exit"); returns after invalidation. */
  Retcode (*process_exit)(KnAdapterSession* session, KnPid pid);
  /* Device DMA, exactly KnSimDeviceDma. */
  Retcode (*device_dma)(KnAdapterSession* session, uint16_t bdf, uint64_t iova, void* data,
                        size_t len, int is_write, uint8_t* fault_reason);
  /* CPU access through a KnIoDmaMap mapping of `pid`, exactly KnSimVmRead / KnSimVmWrite. */
  Retcode (*vm_read)(KnAdapterSession* session, KnPid pid, uint64_t va, void* out, size_t len);
  Retcode (*vm_write)(KnAdapterSession* session, KnPid pid, uint64_t va, const void* in,
                      size_t len);

  /* ---- snapshot of what the hardware sees ---- */
  uint64_t (*read_reg64)(KnAdapterSession* session, uint32_t offset);
  Retcode (*phys_read)(KnAdapterSession* session, uint64_t pa, void* out, size_t len);
  Retcode (*cache_snapshot)(KnAdapterSession* session, KnSimCacheEntry* out, size_t capacity,
                            size_t* count);
  /* Optional: frames freed while hardware could still reach them (0 = none seen). */
  uint64_t (*use_after_free_count)(KnAdapterSession* session);
  /* Optional: frames allocated in simulated physical memory (leak accounting). */
  uint64_t (*frames_in_use)(KnAdapterSession* session);

  /* ---- iommu_api.h, on behalf of process `pid` ---- */
  Retcode (*iommu_attach_device)(KnAdapterSession* session, KnPid pid, uint16_t bdf);
  Retcode (*iommu_detach_device)(KnAdapterSession* session, KnPid pid, uint16_t bdf);
  Retcode (*iommu_create_domain)(KnAdapterSession* session, KnPid pid, Handle* out_domain);
  Retcode (*iommu_attach_device_to_domain)(KnAdapterSession* session, KnPid pid, uint16_t bdf,
                                           Handle domain);
  Retcode (*iommu_detach_device_from_domain)(KnAdapterSession* session, KnPid pid, uint16_t bdf,
                                             Handle domain);

  /* ---- dma.h and handle.h, on behalf of process `pid` ---- */
  Retcode (*dma_create)(KnAdapterSession* session, KnPid pid, uint32_t order, size_t size,
                        DmaAttr flags, Handle* out_rid);
  Retcode (*dma_create_continuous)(KnAdapterSession* session, KnPid pid, size_t size, DmaAttr flags,
                                   Handle* out_rid);
  Retcode (*dma_map)(KnAdapterSession* session, KnPid pid, Handle rid, size_t offset, size_t length,
                     void* hint, int vmflags, void** addr, Handle* handle);
  Retcode (*dma_begin)(KnAdapterSession* session, KnPid pid, Handle rid, Handle* handle);
  Retcode (*dma_begin_ex)(KnAdapterSession* session, KnPid pid, Handle rid, Handle domain,
                          Handle* handle);
  /* *out_info is released with free_info below (never with the suite's own free()). */
  Retcode (*dma_get_info)(KnAdapterSession* session, KnPid pid, Handle rid, DmaInfo** out_info);
  Retcode (*dma_get_phys_info)(KnAdapterSession* session, KnPid pid, Handle rid,
                               DmaInfo** out_info);
  void (*free_info)(DmaInfo* info);
  Retcode (*io_close)(KnAdapterSession* session, KnPid pid, Handle rid);
  Retcode (*handle_close)(KnAdapterSession* session, KnPid pid, Handle handle);

  /* ---- testing hooks ---- */
  /* Optional: selects a deliberately injected bug by name ("" or NULL = none) for the mutation
   * test; rcUnimplemented / rcInvalidArgument when the adapter has no such mutant. Process-wide:
   * the suite calls it only while no session exists. */
  Retcode (*select_mutant)(const char* name);

  /* ---- added later in version 1: a table whose struct_size ends before an entry has it NULL ---- */
  /* Optional: register access as a driver makes it, exactly KnSimReadReg32 / KnSimWriteReg32 /
   * KnSimWriteReg64. The suite reads FSTS and the fault recording registers after every DMA probe
   * and clears them (RW1C) as a fault handler does; without these the fault-recording checks are
   * skipped and reported as skipped. */
  uint32_t (*read_reg32)(KnAdapterSession* session, uint32_t offset);
  void (*write_reg32)(KnAdapterSession* session, uint32_t offset, uint32_t value);
  void (*write_reg64)(KnAdapterSession* session, uint32_t offset, uint64_t value);
  /* Optional: driver protocol violations the hardware saw, exactly KnSimProtocolViolationCount /
   * KnSimProtocolViolationLog (0 = none; the suite fails on any). */
  uint64_t (*protocol_violation_count)(KnAdapterSession* session);
  size_t (*protocol_violation_log)(KnAdapterSession* session, char* out, size_t capacity);
  /* Optional: write generation of the 4 KiB frame at `frame_pa`, exactly KnSimPhysFrameGeneration
   * (docs/adapter.md "Frame write generations"): changes whenever phys_read of the frame may return
   * something else, never repeats; 0 = unknown. With it the suite skips re-reading tables that
   * did not change, and still reads them all periodically to check it. */
  uint64_t (*phys_frame_generation)(KnAdapterSession* session, uint64_t frame_pa);
} KnAdapterV1;

/* The first struct_size an adapter table may have (tables built before the later entries). */
#define KN_ADAPTER_V1_MIN_SIZE offsetof(KnAdapterV1, read_reg32)

/* The entry point of a shared-library adapter. */
typedef const KnAdapterV1* (*KnAdapterEntryV1)(void);

#ifdef __cplusplus
}
#endif
#endif
