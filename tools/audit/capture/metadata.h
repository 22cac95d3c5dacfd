// Builds snapshot metadata from what a process can ask the C API: its buffers' physical blocks
// (KnIoDmaGetPhysInfo) and direction. Call on a thread bound to the owning process.
#pragma once

#include <cstdint>

#include "capture/dma_api.h"
#include "kniommu/sim.h"
#include "snapshot/format.h"

namespace kniommu::snapshot {

// The buffer named by `rid` in the process bound to this thread, as a BUFFER record with id `rid`.
Retcode describe_buffer(KnPid pid, Handle rid, Buffer& out);

// VT-d permissions from a DMA direction: TO_DEVICE = device reads (R), FROM_DEVICE = writes (W).
std::uint8_t perms_from_dma_flags(DmaAttr flags);

}  // namespace kniommu::snapshot
