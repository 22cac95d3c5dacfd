#include "capture/metadata.h"

#include <cstdlib>

namespace kniommu::snapshot {

std::uint8_t perms_from_dma_flags(DmaAttr flags) {
  return static_cast<std::uint8_t>(((flags & DMA_DIR_TO_DEVICE) != 0 ? kPermRead : 0) |
                                   ((flags & DMA_DIR_FROM_DEVICE) != 0 ? kPermWrite : 0));
}

Retcode describe_buffer(KnPid pid, Handle rid, Buffer& out) {
  DmaInfo* info = nullptr;
  const Retcode rc = KnIoDmaGetPhysInfo(rid, &info);
  if (rc != rcOk) return rc;
  out = Buffer{pid, rid, perms_from_dma_flags(info->flags), {}};
  for (std::size_t i = 0; i < info->count; ++i) {
    const DmaFrameDescriptor d = info->descriptors[i];
    out.ranges.push_back({static_cast<std::uint64_t>(d.frame) << 12, std::uint64_t{1} << d.order});
  }
  std::free(info);
  return rcOk;
}

}  // namespace kniommu::snapshot
