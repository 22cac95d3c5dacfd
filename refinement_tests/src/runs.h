// A translation as a set of runs: [iova, iova + pages*4K) -> [pa, ...) with one permission.
// Both sides of the abstraction comparison (hardware tables, model + physical blocks) produce
// runs; normalize() makes equal translations compare equal however they were built (4K pages,
// 2M/1G leaves, buffer blocks).
#pragma once

#include <cstdint>
#include <ostream>
#include <vector>

namespace kniommu::conformance {

inline constexpr uint64_t kPage = 4096;
inline constexpr uint8_t kPermR = 0x1, kPermW = 0x2;

struct Run {
  uint64_t iova = 0;
  uint64_t pages = 0;
  uint64_t pa = 0;
  uint8_t perm = 0;  // kPermR | kPermW
  bool operator==(const Run&) const = default;
};
using Runs = std::vector<Run>;

// Sorted by IOVA, adjacent runs merged when IOVA and PA are both contiguous and perms agree.
Runs normalize(Runs runs);
// True when every page of [iova, iova + pages*4K) is in `runs` (normalized) translating to
// pa + offset with at least the permissions `perm`.
bool covers(const Runs& runs, uint64_t iova, uint64_t pages, uint64_t pa, uint8_t perm);
// Runs overlapping in IOVA (a normalized list from hardware never has them; the model's must not).
bool has_overlap(const Runs& normalized);

std::ostream& operator<<(std::ostream& os, const Run& r);
std::ostream& operator<<(std::ostream& os, const Runs& r);

}  // namespace kniommu::conformance
