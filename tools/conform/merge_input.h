// Reading the shard results `kniommu-conform merge` takes: --coverage-out JSON or --junit XML of
// one shard, told apart by content. Every malformed or foreign input is refused with a message
// naming the file; standard library and Boost.PropertyTree only, so the fuzz target
// (tools/audit/fuzz/fuzz_merge.cpp) builds it on its own.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kniommu/conformance.h"
#include "run_json.h"

namespace kniommu::conform {

// A shard result as read back: the run it records (seed and shard; the adapter is not read) and
// each configuration's outcome.
struct ShardFile : RunInfo {
  std::string path;
  std::vector<conformance::ConfigOutcome> configs;
};

// Reads one shard result (JSON or JUnit XML, told apart by content; a regular file of at most
// 64 MiB); nullopt with `error`.
std::optional<ShardFile> read_shard_file(const std::string& path, std::string& error);
// The same for bytes already read; `path` only names them in messages.
std::optional<ShardFile> parse_shard_text(const std::string& text, const std::string& path,
                                          std::string& error);

}  // namespace kniommu::conform
