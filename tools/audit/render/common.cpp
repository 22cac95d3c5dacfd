#include "render/render.h"

namespace kniommu::audit {

std::vector<BufferReach> buffers_reached(const Report& report, const DeviceReport& device) {
  std::vector<BufferReach> out;
  for (const auto& b : report.buffers) {
    std::vector<Range> pages;
    for (const auto& r : b.ranges) pages.push_back({r.pa, r.pages, kRead | kWrite});
    const auto hit = excess(device.reach, excess(device.reach, normalize(std::move(pages))));
    if (hit.empty()) continue;
    std::uint8_t perms = 0;
    for (const auto& r : hit) perms |= r.perms;
    out.push_back({&b, perms, page_count(hit)});
  }
  return out;
}

}  // namespace kniommu::audit
