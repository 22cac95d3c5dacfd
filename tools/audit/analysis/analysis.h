// The audit: from a snapshot to who reaches what, and what is wrong with it.
// Rules and their exact meaning: docs/snapshot-format.md §"What kniommu-audit checks".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/ranges.h"
#include "analysis/table_walk.h"
#include "analysis/violation.h"
#include "snapshot/format.h"

namespace kniommu::audit {

struct Policy;  // analysis/policy.h

struct Options {
  unsigned haw = 0;                // host address width; 0 = CAP.MGAW + 1 (see default_haw)
  const Policy* policy = nullptr;  // optional: which device belongs to which zone, may reach what
};

struct DeviceReport {
  std::uint16_t bdf = 0;
  std::uint16_t did = 0;
  unsigned levels = 0;
  bool pass_through = false;
  std::optional<std::uint32_t> owner;        // from metadata
  std::optional<snapshot::DomainKind> kind;  // from metadata
  std::vector<Range> reach;                  // physical ranges with effective R/W
  std::vector<Mapping> mappings;             // the same, by IOVA (merged runs)
  bool mappings_truncated = false;           // see kMaxMappingLeaves
  std::string name;                          // from the platform (DEVICE record), may be empty
  bool bypasses_iommu = false;               // the platform says its DMA is not translated
};

struct ProcessReport {
  std::uint32_t pid = 0;
  std::string name;
  std::vector<std::uint16_t> dids;     // domains it owns
  std::vector<std::uint16_t> devices;  // devices attached to those domains
  std::vector<Range> buffers;          // its buffers' pages, with their direction
  std::vector<Range> reach;            // what its devices reach together
};

struct Report {
  snapshot::Registers regs;
  unsigned haw = 0;
  bool translation_enabled = false;
  bool has_metadata = false;
  std::uint64_t root_table = 0;
  std::size_t structure_pages = 0;  // root + context tables
  std::size_t sl_table_pages = 0;
  std::vector<DeviceReport> devices;  // in BDF order
  std::vector<ProcessReport> processes;
  std::vector<snapshot::Domain> domains;
  std::vector<snapshot::Buffer> buffers;
  std::vector<Violation> violations;
  std::vector<Violation> findings;  // what an auditor should know; not violations (exit 0)
  std::vector<snapshot::DeviceInfo> platform_devices;
  bool has_policy = false;
};

Report analyze(const snapshot::Snapshot& snapshot, const Options& options = {});

}  // namespace kniommu::audit
