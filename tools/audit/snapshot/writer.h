// Serializes a Snapshot into the file format of docs/snapshot-format.md (version 1).
// The output is deterministic: pages in address order, metadata in the order given.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format.h"

namespace kniommu::snapshot {

std::vector<std::uint8_t> write_snapshot(const Snapshot& snapshot);

// Returns false (and leaves errno set) when the file cannot be written completely.
bool write_snapshot_file(const Snapshot& snapshot, const std::string& path);

}  // namespace kniommu::snapshot
