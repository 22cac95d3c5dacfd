// Argument bias for generated commands: mostly the model's live objects (processes, attached
// devices, handles of the right kind, grant edges), sometimes wrong or random values (revoked,
// foreign, closed and never-issued handles, unknown BDFs, bad sizes and orders). Every pick draws
// with *rc::gen, so it shrinks, and only from the generation model, so it is valid by
// construction.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model.h"

namespace kniommu::conformance::bias {

int pick(int n);  // uniform in [0, n)
bool chance(int percent);

std::vector<model::Pid> alive_pids(const model::State& s);
model::Pid pid(const model::State& s);  // an alive process (there always is one)
model::Bdf bdf(const model::State& s);
model::Bdf unknown_bdf(const model::State& s);
// A handle value for `pid`: mostly a live one of `kind`, sometimes a revoked one (any kind),
// another kind, a foreign value, a never-issued value, INVALID_HANDLE or 0.
Handle handle(const model::State& s, model::Pid pid, model::Kind kind);
uint32_t dma_flags();
// Mostly valid direction flags (BIDIR, TO_DEVICE or FROM_DEVICE), for scenario buffers.
uint32_t valid_dma_flags();

// Order and page count of a new buffer. Mostly small (1..12 pages, many not a power of two,
// so grants end up unaligned); often large: order 9 with 1..3 blocks and order 10 with 1..2
// blocks (several 2 MiB superpages in one grant), and 500..1099 pages of order <= 8 (4 KiB
// leaves across a 2 MiB table boundary wherever the grant starts); rarely an order above
// DMA_ORDER_MAX (invalid).
struct BufferShape {
  uint32_t order = 0;
  uint64_t pages = 1;
};
BufferShape buffer_shape();

}  // namespace kniommu::conformance::bias
