#include "arg_bias.h"

#include <rapidcheck.h>

#include "kniommu/adapter.h"  // includes kniommu/dma.h without the pedantic warning

namespace kniommu::conformance::bias {

// Full range at every size (inRange alone narrows the range for small sizes, which would make
// the first cases degenerate); shrinking still moves towards 0, the most typical choice.
int pick(int n) { return n <= 1 ? 0 : *rc::gen::resize(rc::kNominalSize, rc::gen::inRange(0, n)); }
// Shrinks towards false.
bool chance(int percent) { return pick(100) >= 100 - percent; }

std::vector<model::Pid> alive_pids(const model::State& s) {
  std::vector<model::Pid> out;
  for (const auto& [p, proc] : s.processes)
    if (proc.alive) out.push_back(p);
  return out;
}

model::Pid pid(const model::State& s) {
  // Mostly the first live process, so calls pile up on one process's domains and buffers (the
  // interesting sequences need several calls by the same process); sometimes any other.
  const auto alive = alive_pids(s);
  if (alive.empty()) return 1;
  return chance(35) ? alive[static_cast<size_t>(pick(static_cast<int>(alive.size())))]
                    : alive.front();
}

model::Bdf unknown_bdf(const model::State& s) {
  static constexpr model::Bdf kUnknown[] = {0x0018, 0x0200, 0xFFFF, 0x0009};
  const model::Bdf b = kUnknown[pick(4)];
  return model::device_known(s, b) ? 0xFFFE : b;
}

model::Bdf bdf(const model::State& s) {
  std::vector<model::Bdf> attached;
  for (const auto& [id, d] : s.domains)
    attached.insert(attached.end(), d.devices.begin(), d.devices.end());
  const int r = pick(100);
  if (r < 55 && !attached.empty())
    return attached[static_cast<size_t>(pick(static_cast<int>(attached.size())))];
  if (r < 90 && !s.config.devices.empty())
    return s.config.devices[static_cast<size_t>(pick(static_cast<int>(s.config.devices.size())))];
  return unknown_bdf(s);
}

Handle handle(const model::State& s, model::Pid p, model::Kind kind) {
  // right: live entries of `kind`; revoked: entries whose object is gone (a grant into a
  // destroyed domain), any kind: the revoked check precedes the type check
  // (docs/semantics.md "Handles"), so every handle-taking call must answer rcHandleRevoked.
  std::vector<Handle> right, revoked, any, foreign;
  Handle max_value = 0;
  for (const auto& [q, proc] : s.processes) {
    for (const auto& [h, e] : proc.handles) {
      max_value = std::max(max_value, h);
      if (q == p) {
        any.push_back(h);
        if (e.revoked)
          revoked.push_back(h);
        else if (e.kind == kind)
          right.push_back(h);
      } else if (!s.processes.at(p).handles.count(h)) {
        foreign.push_back(h);
      }
    }
  }
  auto from = [](const std::vector<Handle>& v) {
    return v[static_cast<size_t>(pick(static_cast<int>(v.size())))];
  };
  const int r = pick(100);
  if (r < 80 && !right.empty()) return from(right);
  if (r < 86 && !revoked.empty()) return from(revoked);
  if (r < 90 && !any.empty()) return from(any);
  if (r < 95 && !foreign.empty()) return from(foreign);
  if (r < 98) return max_value + 1 + static_cast<Handle>(pick(3));
  return chance(50) ? INVALID_HANDLE : 0;
}

uint32_t dma_flags() {
  static constexpr uint32_t kDirs[] = {DMA_DIR_TO_DEVICE, DMA_DIR_FROM_DEVICE, DMA_DIR_BIDIR};
  static constexpr uint32_t kCache[] = {DMA_ATTR_WRITE_THROUGH, DMA_ATTR_CACHE_DISABLE,
                                        DMA_ATTR_WRITE_COMBINE};
  const int r = pick(100);
  if (r >= 96) return 0;                                            // no direction
  if (r >= 92) return DMA_DIR_BIDIR | (chance(50) ? 0x8u : 0x40u);  // bit outside the valid mask
  uint32_t f = kDirs[pick(3)];
  if (chance(20)) f |= DMA_ZONE_DMA32;
  if (chance(20)) f |= kCache[pick(3)];
  return f;
}

uint32_t valid_dma_flags() {
  static constexpr uint32_t kDirs[] = {DMA_DIR_BIDIR, DMA_DIR_TO_DEVICE, DMA_DIR_FROM_DEVICE};
  return kDirs[pick(100) < 70 ? 0 : 1 + pick(2)];
}

BufferShape buffer_shape() {
  BufferShape b;
  const int r = pick(100);
  b.order = r < 55   ? static_cast<uint32_t>(pick(3))
            : r < 72 ? 9u
            : r < 80 ? 10u
            : r < 96 ? 3u + static_cast<uint32_t>(pick(6))
            : r < 97 ? DMA_ORDER_MAX  // 1 GiB blocks
                     : 19u + static_cast<uint32_t>(pick(4));
  if (b.order > DMA_ORDER_MAX) {
    b.pages = 1 + static_cast<uint64_t>(pick(12));
  } else if (b.order == DMA_ORDER_MAX) {
    b.pages = uint64_t{1} << b.order;  // one block: a second would not fit the simulated memory
  } else if (b.order >= 9) {
    const uint64_t block = uint64_t{1} << b.order;
    const int max_blocks = b.order == 9 ? 3 : 2;
    b.pages = block * static_cast<uint64_t>(pick(max_blocks)) + 1 +
              static_cast<uint64_t>(pick(static_cast<int>(block)));
  } else {
    b.pages = pick(100) < 75 ? 1 + static_cast<uint64_t>(pick(12))
                             : 500 + static_cast<uint64_t>(pick(600));
  }
  return b;
}

}  // namespace kniommu::conformance::bias
