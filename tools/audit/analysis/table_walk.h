// Walks the VT-d legacy-mode structures exactly as the remapping unit would (root table →
// context tables → second-level tables), decoding every entry with the shared layouts of
// impl/vtd (formats.h, entries.h, caps.h, sl_masks.h). Used twice: to capture a snapshot from a
// live system (which pages to save) and to audit a snapshot (what each device reaches).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "analysis/ranges.h"
#include "analysis/violation.h"
#include "snapshot/format.h"

namespace kniommu::audit {

// Where table pages come from. Returns nullptr when the page is not available.
class PageSource {
 public:
  virtual ~PageSource() = default;
  virtual const std::uint8_t* page(std::uint64_t pa) = 0;

 protected:
  PageSource() = default;
  PageSource(const PageSource&) = default;
  PageSource& operator=(const PageSource&) = default;
};

// A present, valid context entry: one device attached to one domain.
struct ContextInfo {
  std::uint16_t bdf = 0;
  std::uint16_t did = 0;
  unsigned levels = 0;        // table depth (AW + 2)
  std::uint64_t slptptr = 0;  // root of the second-level tables
  bool pass_through = false;  // TT = 2
};

// One run of IOVA pages translating to contiguous physical pages with one effective R/W.
struct Mapping {
  std::uint64_t iova = 0;  // 4 KiB aligned
  std::uint64_t pa = 0;    // 4 KiB aligned
  std::uint64_t pages = 0;
  std::uint8_t perms = 0;
  friend bool operator==(const Mapping&, const Mapping&) = default;
};

// At most this many leaf entries are listed by IOVA per tree (tables aliasing each other can
// multiply IOVAs without bound; the physical reach is still complete, see mappings_truncated).
inline constexpr std::size_t kMaxMappingLeaves = std::size_t{1} << 18;

// Everything reachable through one second-level table tree.
struct TreeReach {
  std::vector<Range> reach;             // normalized physical ranges with effective R/W
  std::set<std::uint64_t> table_pages;  // SL table pages the walk visited
  std::vector<Mapping> mappings;        // IOVA -> PA, sorted by IOVA, runs merged
  bool mappings_truncated = false;      // more than kMaxMappingLeaves leaves: list incomplete
};

// Sorts by IOVA and merges runs contiguous in both IOVA and PA with equal permissions.
std::vector<Mapping> merge_mappings(std::vector<Mapping> mappings);

struct TableWalk {
  bool translation_enabled = false;
  std::uint64_t root_table = 0;
  std::set<std::uint64_t> structure_pages;                        // root + context tables
  std::vector<ContextInfo> contexts;                              // in BDF order
  std::map<std::pair<std::uint64_t, unsigned>, TreeReach> trees;  // by (slptptr, levels)
  std::vector<Violation> findings;  // structural problems met on the way
};

// `haw`: host address width; output-address bits at or above it are reserved.
TableWalk walk_tables(const snapshot::Registers& regs, PageSource& source, unsigned haw);

// The host address width the audit assumes when not told: CAP.MGAW + 1, as QEMU's emulated unit
// does (VT-d has no register for HAW).
unsigned default_haw(const snapshot::Registers& regs);

// A PageSource over the pages stored in a snapshot.
class SnapshotPages final : public PageSource {
 public:
  explicit SnapshotPages(const snapshot::Snapshot& s) : snapshot_(s) {}
  const std::uint8_t* page(std::uint64_t pa) override;

 private:
  const snapshot::Snapshot& snapshot_;
};

}  // namespace kniommu::audit
