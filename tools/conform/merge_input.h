// Reading the shard results `kniommu-conform merge` takes: --coverage-out JSON or --junit XML of
// one shard, told apart by content. Every malformed or foreign input is refused with a message
// naming the file; standard library and Boost.PropertyTree only, so the fuzz target
// (tools/audit/fuzz/fuzz_merge.cpp) builds it on its own.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kniommu/conformance.h"

namespace kniommu::conform {

struct ShardFile {
  std::string path;
  uint64_t seed = 0;
  unsigned shard_index = 0, shard_count = 1;
  std::vector<conformance::ConfigOutcome> configs;
};

// Reads one shard result (JSON or JUnit XML, told apart by content); nullopt with `error`.
std::optional<ShardFile> read_shard_file(const std::string& path, std::string& error);

// Reads one shard result (a regular file of at most 64 MiB); nullopt with `error`.
std::optional<ShardFile> read_shard_file(const std::string& path, std::string& error);
// The same for bytes already read; `path` only names them in messages.
std::optional<ShardFile> parse_shard_text(const std::string& text, const std::string& path,
                                          std::string& error);

}  // namespace kniommu::conform
