// Parses a snapshot file. Every malformed or truncated input yields an error naming the byte
// offset and what was wrong; the reader never trusts a length before checking it against the
// bytes that remain, so hostile input cannot make it read out of bounds or allocate without
// bound (fuzzed: tools/audit/fuzz/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "format.h"

namespace kniommu::snapshot {

struct ReadError {
  std::uint64_t offset = 0;
  std::string message;
  std::string to_string() const;  // "byte 123: <message>"
};

struct ReadResult {
  std::optional<Snapshot> snapshot;  // set iff the input is a valid snapshot
  ReadError error;                   // meaningful iff !snapshot
};

ReadResult read_snapshot(std::span<const std::uint8_t> bytes);

// Reads a whole file; I/O failures are reported as errors at offset 0.
ReadResult read_snapshot_file(const std::string& path);

}  // namespace kniommu::snapshot
