// What the audit reports as wrong. One kind per rule of docs/snapshot-format.md §Audit rules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "analysis/ranges.h"

namespace kniommu::audit {

enum class ViolationKind {
  kTranslationDisabled,  // GSTS.TES clear: devices bypass the remapping unit entirely
  kMissingPage,          // a table the hardware would walk is not in the snapshot
  kReservedBits,         // a present entry has a reserved bit set (hardware faults on it)
  kInvalidEntry,         // a field value the capabilities do not allow (AW, TT, DID, TTM)
  kPassThrough,          // TT = pass-through: the device reaches all of memory
  kReachesTables,        // a device can reach a page holding remapping structures
  kSharedTablePage,      // one second-level table page is walked for two domains
  kDidConflict,          // one DID used with two different page-table roots
  kUnownedDomain,        // a device's DID is not owned by any process in the metadata
  kOutsideBuffers,       // a device reaches pages outside its owner's buffers
  kExcessPermission,     // a device may write (read) a buffer page its direction forbids
  kSharedWritable,       // devices of two principals share a page one of them may write
  kIommuBypass,          // the platform says a device's DMA is not translated (virtio, bus)
  kPolicyUnlisted,       // policy given: a device the policy does not name
  kPolicyReach,          // policy given: a device reaches pages its zone may not
  kPolicyZoneMix,        // policy given: devices of two zones share a domain or a writable page
  // Findings: reported, never a reason for exit status 1 (Report::findings).
  kSharedDomain,       // one DID (one translation) used by several functions
  kIdentityMap,        // IOVA = PA ranges
  kEmptyDomain,        // a translated context whose domain maps nothing
  kAliasedPages,       // one physical page reached through several IOVAs (sub-page buffers)
  kReadForced,         // no write-only entry anywhere: the OS sets R on every entry
  kMappingsTruncated,  // the IOVA list of a domain was cut at kMaxMappingLeaves
};

const char* kind_name(ViolationKind kind);  // stable identifiers, used in JSON: "outside-buffers"

struct Violation {
  Violation() = default;
  Violation(ViolationKind k, std::string m) : kind(k), message(std::move(m)) {}

  ViolationKind kind{};
  std::string message;               // one line for people
  std::optional<std::uint16_t> bdf;  // device concerned, if one
  std::vector<std::uint16_t> dids;   // domains concerned
  std::vector<std::uint32_t> pids;   // processes concerned
  std::optional<std::uint64_t> pa;   // table page or entry address concerned
  std::vector<Range> ranges;         // physical pages concerned
};

}  // namespace kniommu::audit
