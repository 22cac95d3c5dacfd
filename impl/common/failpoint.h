// Fail-nth allocation injection, after Linux iommufd's selftests: a test arms the counter with N,
// and the N-th allocation site reached afterwards (counting from 1) reports failure. Every
// allocation site in impl/ (page-table frames, buffer frames, handle slots, domain IDs, IOVA
// ranges, heap nodes) asks `failpoint_hit()` first and returns rcOutOfMemory when it is true.
// The counter is per thread, so concurrent tests do not disturb each other.
#pragma once

#include <cstdint>

namespace kniommu {

// Arms the counter: the n-th subsequent site fails (n >= 1); 0 disarms.
void failpoint_arm(std::uint64_t n);
void failpoint_disarm();
// True exactly once, at the armed site. Counts sites while armed.
bool failpoint_hit();
// Sites passed since the last arm (lets a test learn how many sites a call has).
std::uint64_t failpoint_sites_seen();

}  // namespace kniommu
