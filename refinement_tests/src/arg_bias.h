// Argument bias for generated commands: mostly the model's live objects (processes, attached
// devices, handles of the right kind, grant edges), sometimes wrong or random values (foreign,
// closed and never-issued handles, unknown BDFs, bad sizes and orders). Every pick draws with
// *rc::gen, so it shrinks, and only from the generation model, so it is valid by construction.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model.h"

namespace kniommu::conformance::bias {

int pick(int n);                // uniform in [0, n)
bool chance(int percent);

std::vector<model::Pid> alive_pids(const model::State& s);
model::Pid pid(const model::State& s);  // an alive process (there always is one)
model::Bdf bdf(const model::State& s);
model::Bdf unknown_bdf(const model::State& s);
// A handle value for `pid`: mostly one of `kind`, sometimes another kind, a foreign value,
// a never-issued value, INVALID_HANDLE or 0.
Handle handle(const model::State& s, model::Pid pid, model::Kind kind);
uint32_t dma_flags();

}  // namespace kniommu::conformance::bias
