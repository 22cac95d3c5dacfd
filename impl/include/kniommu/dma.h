/* DMA buffers (coresrv/io/dma.h, io/io_dma.h) as kniommu implements them.
 * Every decision the KasperskyOS documentation leaves open is in docs/semantics.md. */
#ifndef KNIOMMU_DMA_H
#define KNIOMMU_DMA_H

#include <stddef.h>
#include <stdint.h>
#include "kniommu/handle.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t DmaAttr;
/* Direction: which way data moves. TO_DEVICE = the device reads memory (VT-d R);
 * FROM_DEVICE = the device writes memory (VT-d W); BIDIR = both. At least one is required. */
#define DMA_DIR_TO_DEVICE 0x1u
#define DMA_DIR_FROM_DEVICE 0x2u
#define DMA_DIR_BIDIR 0x3u
/* Physical frames below 4 GiB only. */
#define DMA_ZONE_DMA32 0x4u
/* Cache policy of the CPU mapping (at most one; none means write-back). No effect on the IOMMU. */
#define DMA_ATTR_WRITE_BACK 0x00u
#define DMA_ATTR_WRITE_THROUGH 0x10u
#define DMA_ATTR_CACHE_DISABLE 0x20u
#define DMA_ATTR_WRITE_COMBINE 0x30u
#define DMA_ATTR_CACHE_MASK 0x30u
#define DMA_ATTR_VALID_MASK 0x37u

typedef uint64_t DmaAddr;
/* A block descriptor: order (the block has 2^order pages) in the low bits, then the page frame
 * number (address >> 12) of the block: physical for KnIoDmaGetPhysInfo, IOVA for KnIoDmaGetInfo. */
#define DMA_FRAME_ORDER_BITS 12
#define DMA_FRAME_BASE_BITS 52
#define DMA_FRAMES_COUNT_MAX 4096u
#define DMA_ORDER_MAX 18u /* 2^18 pages = 1 GiB blocks */
#define DMA_SIZE_MAX (1ull << 32)

/* The anonymous struct mirrors KasperskyOS's layout; __extension__ keeps -Wpedantic quiet in C++
 * and C89 consumers (anonymous structs are standard only since C11). */
typedef union DmaFrameDescriptor {
  __extension__ struct {
    DmaAddr order : DMA_FRAME_ORDER_BITS;
    DmaAddr frame : DMA_FRAME_BASE_BITS;
  };
  DmaAddr raw;
} DmaFrameDescriptor;

typedef struct DmaInfo {
  DmaAttr flags;
  size_t orderMin;
  size_t size;
  size_t count; /* 0 when the buffer is not reachable by any device through this view */
  DmaFrameDescriptor descriptors[1];
} DmaInfo;

/* vmflags for KnIoDmaMap (vmm/flags.h). */
#define VMM_FLAG_READ 0x1
#define VMM_FLAG_WRITE 0x2

Retcode KnIoDmaCreate(uint32_t order, size_t size, DmaAttr flags, Handle* outRid);
Retcode KnIoDmaCreateContinuous(size_t size, DmaAttr flags, Handle* outRid);
Retcode KnIoDmaMap(Handle rid, size_t offset, size_t length, void* hint, int vmflags, void** addr,
                   Handle* handle);
/* Associates the buffer with the calling process's automatic domain; *handle names the grant. */
Retcode KnIoDmaBegin(Handle rid, Handle* handle);
/* Associates the buffer with a domain created by KnIommuCreateDomain. */
Retcode KnIoDmaBeginEx(Handle rid, Handle domain, Handle* handle);
/* *outInfo is allocated with malloc(); the caller releases it with free(). */
Retcode KnIoDmaGetInfo(Handle rid, DmaInfo** outInfo);
Retcode KnIoDmaGetPhysInfo(Handle rid, DmaInfo** outInfo);
/* Same as KnHandleClose for every handle kniommu hands out. */
Retcode KnIoClose(Handle rid);

#ifdef __cplusplus
}
#endif
#endif
