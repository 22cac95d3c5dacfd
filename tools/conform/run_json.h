// The whole result of a conformance run as JSON (--coverage-out): per configuration its outcome,
// cases, commands, commands per second, failure and replay file, the slowest cases and the
// coverage (counters, required-but-missing keys, unreachable-by-design keys with reasons).
// `kniommu-conform merge` reads these files back (merge.h). Format: docs/sharding.md.
#pragma once

#include <string>

#include "kniommu/conformance.h"

namespace kniommu::conform {

// The run a result file records; `kniommu-conform merge` reads it back (merge_input.h).
struct RunInfo {
  std::string adapter;
  uint64_t seed = 0;
  unsigned shard_index = 0, shard_count = 1;
};

inline constexpr int kRunJsonFormat = 1;

std::string run_json(const conformance::ConformanceResult& result, const RunInfo& info);
std::string json_string(const std::string& s);  // quoted and escaped

}  // namespace kniommu::conform
