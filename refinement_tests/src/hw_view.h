// The hardware half of the abstraction function: what a device could reach, rebuilt only from
// what the remapping hardware itself reads — RTADDR, then root, context and second-level tables
// in physical memory. It never consults the implementation's bookkeeping.
//
// The entry formats are decoded here from the VT-d bit positions (VT-d spec ch. 9
// §1.2-1.4) on purpose: an independent decoder, so a layout bug shared by driver and emulator
// still shows up as a discrepancy against the model.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "kniommu/adapter.h"
#include "runs.h"

namespace kniommu::conformance {

namespace coverage {
struct TableLeaves;
}

struct HwDevice {
  uint16_t did = 0;
  uint64_t root = 0;    // SLPTPTR
  unsigned levels = 0;  // AW + 2
  Runs runs;            // normalized reachable translations
};

struct HwView {
  std::map<uint16_t, HwDevice> devices;  // BDF -> present context entry
  std::vector<std::string> errors;       // malformed structures (reported as discrepancies)
  // Root, context and second-level tables reachable: ascending, each page once.
  std::vector<uint64_t> table_pages;
  uint64_t leaves_2m = 0, leaves_1g = 0;  // superpage leaves seen
};

// Leaf tables (level 1) decoded by earlier views of one machine, each with the 4 KiB it was
// decoded from (for a contiguous table, where entry i is entry 0 plus i pages, only entry 0: it
// determines all 512). A later view reuses a decoding only when the table's bytes, as phys_read
// returns them now, are identical and it is reached at the same IOVA with the same inherited
// permission:
// the decoding is a function of exactly those, so the view is the one a full walk builds (a
// 2 MiB buffer without superpages is 512 leaves, re-read after every command). Table memory is
// still read on every view; only the decoding is saved.
class ViewCache {
 public:
  struct LeafTable {
    // The bytes; null when they are entry `first` plus i pages in entry i (a 2 MiB grant's table,
    // 97 % of the decodings reused: compared without reading a stored copy).
    std::unique_ptr<std::array<uint64_t, 512>> bytes;
    uint64_t first = 0;
    uint64_t base = 0;      // IOVA of entry 0
    uint64_t perm_in = 0;   // R|W inherited from the entries above
    Runs runs;              // normalized
    // Present entries; shared with the coverage hooks' views, so a new decoding gets a new
    // object (a reused one is recognized by its pointer).
    std::shared_ptr<const coverage::TableLeaves> leaves;
  };
  // The decoding of the table at `pa` if its bytes and position match, else null.
  const LeafTable* find(uint64_t pa, const std::array<uint64_t, 512>& bytes, uint64_t base,
                        uint64_t perm_in) const;
  LeafTable& store(uint64_t pa);
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  std::unordered_map<uint64_t, LeafTable> tables_;
  mutable uint64_t hits_ = 0, misses_ = 0;
};

// `cache` (optional) keeps leaf-table decodings between views of the same machine.
HwView read_hw_view(const KnAdapterV1& api, KnAdapterSession* session, ViewCache* cache = nullptr);

}  // namespace kniommu::conformance
