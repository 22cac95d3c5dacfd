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

// What earlier views of one machine read, so that a later view need not read it again.
//
// Leaf tables (level 1) decoded by earlier views, each with the 4 KiB it was decoded from (for a
// contiguous table, where entry i is entry 0 plus i pages, only entry 0: it determines all 512).
// A later view reuses a decoding only when the table's bytes, as phys_read returns them now, are
// identical and it is reached at the same IOVA with the same inherited permission: the decoding is
// a function of exactly those, so the view is the one a full walk builds (a 2 MiB buffer without
// superpages is 512 leaves, re-read after every command).
//
// Frame write generations (adapter entry phys_frame_generation, docs/adapter.md): every table
// read is kept with the generation its frame had just before the read. When the generation is
// non-zero and unchanged, the frame was not written since, so the view takes the kept bytes (upper
// tables) or decoding (leaf tables at the same IOVA and permission) without reading memory. The
// suite does not simply trust the memory: verifying views (views 1, 2, 4, 8 and 16 of the
// machine, then every 16th: short cases and shrink steps are verified too, long ones pay 1/16 of
// a full read) read every table in full and compare it with what is kept at an unchanged
// generation; a difference is a view error ("frame 0x... changed without a write generation
// change"), i.e. a refinement discrepancy. 0 ("unknown") or no entry: read as before.
class ViewCache {
 public:
  using Table = std::array<uint64_t, 512>;
  struct LeafTable {
    // The bytes; null when they are entry `first` plus i pages in entry i (a 2 MiB grant's table,
    // 97 % of the decodings reused: compared without reading a stored copy).
    std::unique_ptr<Table> bytes;
    uint64_t first = 0;
    uint64_t base = 0;      // IOVA of entry 0
    uint64_t perm_in = 0;   // R|W inherited from the entries above
    uint64_t generation = 0;  // of the frame when last read (0: unknown)
    Runs runs;              // normalized
    // Present entries; shared with the coverage hooks' views, so a new decoding gets a new
    // object (a reused one is recognized by its pointer).
    std::shared_ptr<const coverage::TableLeaves> leaves;
    // `t` is what this was decoded from.
    bool decoded_from(const Table& t) const;
  };
  // A root, context or upper second-level table as last read.
  struct UpperTable {
    uint64_t generation = 0;  // 0: unknown (not reused)
    Table bytes{};
    // Which groups of 8 entries hold a present one (bit g: entries 8g..8g+7), as the walk that
    // decoded `bytes` found them, so a reused table is not scanned again; `groups_of` says for
    // which format (0: not computed for these bytes; 1: second-level, R|W in each word; 2: root
    // or context, P in the first word of each 128-bit entry).
    uint64_t groups = 0;
    uint8_t groups_of = 0;
  };

  // `generations`: use the adapter's frame write generations (false: every view reads every
  // table, as auditors may want: kniommu-conform --no-frame-generations).
  explicit ViewCache(bool generations = true) : generations_(generations) {}

  // The decoding of the table at `pa` if its bytes and position match, else null.
  LeafTable* find(uint64_t pa, const Table& bytes, uint64_t base, uint64_t perm_in);
  // The same without bytes: the decoding read at `generation` (non-zero) at this position.
  const LeafTable* find(uint64_t pa, uint64_t generation, uint64_t base, uint64_t perm_in);
  // The decoding kept for `pa` (any position), null when none.
  LeafTable* leaf(uint64_t pa);
  LeafTable& store(uint64_t pa);
  UpperTable& upper(uint64_t pa) { return upper_[pa]; }

  bool generations() const { return generations_; }
  // Starts a view; true when it is a verifying one (see above).
  bool begin_view();
  static constexpr uint64_t kVerifyPeriod = 16;
  // The next view verifies, whatever the period (a discrepancy found in a view built from the
  // cache is confirmed with one, so the report names a generation that lied).
  void verify_next_view() { verify_next_ = true; }
  // The last view took at least one table from the cache without reading it.
  bool last_view_reused() const { return reused_ != reused_before_view_; }

  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  // Tables taken from the cache at an unchanged generation (not read).
  uint64_t reused() const { return reused_; }
  void count_reused() { ++reused_; }

 private:
  std::unordered_map<uint64_t, LeafTable> tables_;
  std::unordered_map<uint64_t, UpperTable> upper_;
  bool generations_;
  uint64_t views_ = 0;
  bool verify_next_ = false;
  uint64_t reused_before_view_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
  uint64_t reused_ = 0;
};

// The view error of a verifying view that found a frame changed at an unchanged generation
// ("frame 0x... changed without ..."; ViewCache).
inline constexpr const char* kChangedWithoutGeneration = "changed without a write generation change";

// `cache` (optional) keeps leaf-table decodings between views of the same machine.
HwView read_hw_view(const KnAdapterV1& api, KnAdapterSession* session, ViewCache* cache = nullptr);

}  // namespace kniommu::conformance
