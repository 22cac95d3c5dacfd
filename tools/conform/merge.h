// `kniommu-conform merge FILE...`: the union of the shards of one run (--shard I/N, same seed),
// from their --coverage-out JSON and/or --junit XML: cases and commands per configuration,
// failures with their replay files, coverage, the slowest cases. Every malformed, foreign,
// duplicate or mismatched input is refused with a message naming the file (exit status 2).
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "kniommu/conformance.h"
#include "merge_input.h"

namespace kniommu::conform {

struct ShardOutcome {
  conformance::ConfigOutcome outcome;
  std::string shard;  // "I/N"
  std::string file;
};

struct Merged {
  std::vector<ShardFile> files;
  conformance::ConformanceResult result;  // one outcome per configuration, summed
  std::vector<ShardOutcome> failures;
  std::vector<std::pair<std::string, conformance::SlowCase>> slowest;  // config, case
  std::vector<unsigned> missing_shards;
};
// Checks the files belong to one run (same seed and shard count, no shard twice).
std::optional<Merged> merge_shards(std::vector<ShardFile> files, std::string& error);

void print_merged(std::FILE* out, const Merged& m);

// The `merge` subcommand: argv after "merge". Returns the exit status.
int merge_main(int argc, char** argv);

}  // namespace kniommu::conform
