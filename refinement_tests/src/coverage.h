// Path-reach counters: how often a run on one hardware configuration reached each
// configuration-dependent path (a 2 MiB superpage leaf, a fault-record overflow, a reused DID,
// ...), and how often a check was skipped because the adapter lacks an optional entry. A default
// run that never reaches a required path fails: the suite must not pass a configuration whose
// interesting paths it never exercised.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kniommu/conformance.h"

namespace kniommu::conformance {

// Path names (one place, so generator, checks and the required list agree).
namespace path {
inline constexpr const char* kLeaf2M = "table.leaf-2m";             // a 2 MiB leaf in the tables
inline constexpr const char* kLeaf1G = "table.leaf-1g";             // a 1 GiB leaf
inline constexpr const char* kGrantAligned2M = "grant.aligned-2m";  // IOVA+PA 2M aligned, >= 2 MiB
inline constexpr const char* kGrantAligned1G = "grant.aligned-1g";  // IOVA+PA 1G aligned, >= 1 GiB
inline constexpr const char* kBlock1G = "buffer.block-1g";          // a buffer of 1 GiB blocks
inline constexpr const char* kGrantStraddles2M = "grant.straddles-2m";  // crosses a 2 MiB boundary
inline constexpr const char* kForeignHandle = "call.foreign-handle";    // another process's handle
inline constexpr const char* kDidReused = "domain.did-reused";          // a DID of a closed domain
inline constexpr const char* kFaultRecorded = "fault.recorded";
inline constexpr const char* kFaultOverflow = "fault.overflow";  // more faults than records
inline constexpr const char* kFaultDrained = "fault.drained";    // records read and cleared
}  // namespace path

// Checks that need an optional adapter entry.
namespace skipped {
inline constexpr const char* kFaultRegisters = "fault-recording registers (read_reg32/write_reg32)";
inline constexpr const char* kProtocolViolations = "protocol violations (protocol_violation_count)";
inline constexpr const char* kFrameLeaks = "frame leaks (frames_in_use)";
}  // namespace skipped

struct Coverage {
  std::map<std::string, uint64_t> reached;
  std::map<std::string, uint64_t> skipped;
  // The model domain the hardware last showed with each DID (for kDidReused).
  std::map<uint16_t, uint64_t> did_owner;
  void hit(const char* p) { ++reached[p]; }
  void skip(const char* check) { ++skipped[check]; }
};

// The paths a default run on `config` must reach (none when the IOMMU is disabled).
std::vector<std::string> required_paths(const HwConfig& config);

}  // namespace kniommu::conformance
