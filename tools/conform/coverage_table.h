// The compact coverage table printed at the end of a run (and by `merge`): one row per coverage
// key, one column per configuration; then what no configuration... observed although documented,
// and what is unreachable by design with the reason.
#pragma once

#include <cstdio>
#include <vector>

#include "kniommu/conformance.h"

namespace kniommu::conform {

// Outcomes without counters (errors, unsupported) get no column.
void print_coverage(std::FILE* out, const std::vector<conformance::ConfigOutcome>& outcomes);

}  // namespace kniommu::conform
