/* The simulation harness: the part of the adapter ABI that is not KasperskyOS API. It creates a
 * simulated machine (physical memory, one VT-d remapping unit, a PCIe bus), processes in it, and
 * lets tests act as devices and inspect what the hardware can see. The Kn* calls of iommu_api.h and
 * dma.h act on behalf of the process bound to the calling thread with KnSimBindThread. */
#ifndef KNIOMMU_SIM_H
#define KNIOMMU_SIM_H

#include <stddef.h>
#include <stdint.h>
#include "kniommu/retcode.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct KnSimSystem KnSimSystem;
typedef uint32_t KnPid;

/* Hardware generation and size of the simulated machine. Field values are the architectural
 * capability encodings (VT-d spec §10.4.2 CAP_REG, §10.4.3 ECAP_REG). */
typedef struct KnSimConfig {
  int iommu_enabled;      /* 0: no remapping unit; DMA uses physical addresses */
  uint32_t sagaw;         /* CAP.SAGAW bits: 0x2 = 3-level, 0x4 = 4-level, 0x8 = 5-level */
  uint32_t mgaw;          /* address width in bits (39, 48 or 57); CAP.MGAW = mgaw - 1 */
  uint32_t sllps;         /* CAP.SLLPS: bit0 2 MiB, bit1 1 GiB */
  int caching_mode;       /* CAP.CM */
  uint32_t nd;            /* CAP.ND: 2^(4+2*nd) domain IDs */
  uint32_t mamv;          /* CAP.MAMV: largest page-selective address mask */
  uint32_t nfr;           /* CAP.NFR: number of fault-recording registers - 1 */
  int coherent;           /* ECAP.C: page-walk coherency */
  uint32_t iotlb_entries; /* emulated IOTLB capacity (eviction beyond it) */
  uint32_t context_cache_entries;
  uint64_t phys_mem_bytes; /* size of simulated physical memory */
  const uint16_t* devices; /* BDFs present on the bus */
  size_t device_count;
  /* Test instrumentation, on by default (0): on every frame free the simulator checks that no
   * present table entry or unit cache still references the frame (KnSimUseAfterFreeCount). Real
   * hardware has no such check; benchmarks set 1 to measure the implementation alone. */
  int skip_use_after_free_check;
  /* Which hardware judges: KN_SIM_HARDWARE_EMULATOR (0, the default) or KN_SIM_HARDWARE_QEMU
   * (QEMU's intel-iommu and edu devices over qtest; docs/qemu-backend.md says what it can and
   * cannot show). A configuration QEMU cannot provide gives rcInvalidArgument. */
  int hardware;
} KnSimConfig;

#define KN_SIM_HARDWARE_EMULATOR 0
#define KN_SIM_HARDWARE_QEMU 1

/* A 4-level, 48-bit, 2M+1G superpage, CM=0 unit with 64K DIDs and 4 devices. */
void KnSimDefaultConfig(KnSimConfig* config);

Retcode KnSimSystemCreate(const KnSimConfig* config, KnSimSystem** out);
void KnSimSystemDestroy(KnSimSystem* system);

Retcode KnSimProcessCreate(KnSimSystem* system, KnPid* out);
/* Tears the process down (docs/semantics.md "Process exit"); returns after invalidation. */
Retcode KnSimProcessExit(KnSimSystem* system, KnPid pid);
/* Kn* calls made by this thread act as `pid` of `system` from now on (pid 0 unbinds). */
Retcode KnSimBindThread(KnSimSystem* system, KnPid pid);

/* A device DMA through the remapping unit (or untranslated when the IOMMU is disabled).
 * is_write = 1: the device writes `len` bytes from `data` to memory; 0: it reads into `data`.
 * Returns rcOk, or rcFail with *fault_reason set to the VT-d fault reason (0x1-0xE) when the
 * request faults; a faulting request transfers nothing. rcDeviceNotFound for an unknown BDF.
 * With KN_SIM_HARDWARE_QEMU the device is QEMU's edu: a read fills its own 4 KiB buffer (`data` is
 * not written), a write writes that buffer (`data` is ignored), at most 4095 bytes, and a request
 * that faults on one page may still move its permitted pages (docs/qemu-backend.md). */
Retcode KnSimDeviceDma(KnSimSystem* system, uint16_t bdf, uint64_t iova, void* data, size_t len,
                       int is_write, uint8_t* fault_reason);

/* The CPU side of KnIoDmaMap: read / write through a mapping of process `pid`. */
Retcode KnSimVmRead(KnSimSystem* system, KnPid pid, uint64_t va, void* out, size_t len);
Retcode KnSimVmWrite(KnSimSystem* system, KnPid pid, uint64_t va, const void* in, size_t len);

/* What the hardware can see: registers, physical memory, and cache contents. */
uint64_t KnSimReadReg64(KnSimSystem* system, uint32_t offset);
Retcode KnSimPhysRead(KnSimSystem* system, uint64_t pa, void* out, size_t len);
/* Write generation of the 4 KiB frame at `frame_pa` (aligned), for a reader that keeps copies of
 * what KnSimPhysRead returned: non-zero, and different from every earlier answer for the frame
 * whenever any byte KnSimPhysRead could return from it may have changed since (never repeated
 * while the machine lives). 0 = unknown (unaligned or out-of-range frame, or hardware that cannot
 * tell, such as QEMU): read the frame. Ask before reading it. */
uint64_t KnSimPhysFrameGeneration(KnSimSystem* system, uint64_t frame_pa);

typedef struct KnSimCacheEntry {
  uint8_t kind;  /* 0 = context cache, 1 = IOTLB */
  uint8_t perms; /* IOTLB: bit0 R, bit1 W */
  uint16_t sid;  /* context cache: source id (BDF); IOTLB: 0 */
  uint16_t did;
  uint16_t reserved;
  uint64_t iova; /* IOTLB: page address of the cached translation */
  uint64_t pa;   /* IOTLB: physical page address; context cache: SLPTPTR */
  uint64_t size; /* IOTLB: 4 KiB, 2 MiB or 1 GiB */
} KnSimCacheEntry;
/* Copies up to `capacity` cached entries; *count receives the total. */
Retcode KnSimCacheSnapshot(KnSimSystem* system, KnSimCacheEntry* out, size_t capacity,
                           size_t* count);

/* Hardware-side safety violations seen so far: frames freed while a present table entry or a
 * cache of the remapping unit still referenced them (the hardware could walk freed memory). */
uint64_t KnSimUseAfterFreeCount(KnSimSystem* system);

/* Frames currently allocated in simulated physical memory (leak accounting). */
uint64_t KnSimFramesInUse(KnSimSystem* system);

/* Register access as a driver makes it: 32/64-bit MMIO reads and writes of the remapping unit's
 * registers (0 / no effect when the IOMMU is disabled). The conformance suite reads the fault
 * status and fault recording registers with these and clears them (RW1C) as a fault handler does. */
uint32_t KnSimReadReg32(KnSimSystem* system, uint32_t offset);
void KnSimWriteReg32(KnSimSystem* system, uint32_t offset, uint32_t value);
void KnSimWriteReg64(KnSimSystem* system, uint32_t offset, uint64_t value);

/* Driver protocol violations seen so far: things the VT-d specification says software must not do
 * or leaves undefined (a page-selective invalidation whose address is not aligned to its mask, a
 * mask above CAP.MAMV, reserved bits set in a descriptor or register, ...; docs/emulator.md lists
 * every rule). The emulator counts them instead of doing something reasonable. */
uint64_t KnSimProtocolViolationCount(KnSimSystem* system);
/* Copies the text of the first violations (one per line, NUL-terminated, truncated to `capacity`)
 * and returns the length of the whole log. */
size_t KnSimProtocolViolationLog(KnSimSystem* system, char* out, size_t capacity);

#ifdef __cplusplus
}
#endif
#endif
