#include "coverage.h"

namespace kniommu::conformance {

std::vector<std::string> required_paths(const HwConfig& config) {
  const KnSimConfig& c = config.sim;
  if (c.iommu_enabled == 0) return {};
  // Every configuration: grants a 2 MiB or 1 GiB leaf could map (whether or not SLLPS allows
  // it: where it does not, the page table must not use one), 1 GiB blocks, grants across a leaf-
  // table boundary, foreign handles, DID reuse, and faults recorded and drained.
  std::vector<std::string> out = {path::kGrantAligned2M, path::kGrantAligned1G,
                                  path::kBlock1G,        path::kGrantStraddles2M,
                                  path::kForeignHandle,  path::kDidReused,
                                  path::kFaultRecorded,  path::kFaultDrained};
  if ((c.sllps & 0x1) != 0) out.emplace_back(path::kLeaf2M);
  if ((c.sllps & 0x2) != 0) out.emplace_back(path::kLeaf1G);
  // Overflow needs more undrained faults than records: reached by default only with few records.
  if (c.nfr <= 3) out.emplace_back(path::kFaultOverflow);
  return out;
}

}  // namespace kniommu::conformance
