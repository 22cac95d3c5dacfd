// Builds snapshots with hand-made VT-d tables for the audit's tests, encoding every entry with
// the shared layouts of impl/vtd (the same descriptions the driver and the emulator use).
#pragma once

#include <cstdint>

#include "snapshot/format.h"

namespace kniommu::audit::testing {

class TableBuilder {
 public:
  // A 4-level, 48-bit unit with 2M/1G superpages, 64K DIDs, translation enabled.
  TableBuilder();

  snapshot::Snapshot& snapshot() { return snapshot_; }
  void set_cap(std::uint64_t cap) { snapshot_.regs.cap = cap; }
  void set_ecap(std::uint64_t ecap) { snapshot_.regs.ecap = ecap; }
  void disable_translation() { snapshot_.regs.gsts = 0; }

  std::uint64_t new_page();  // a zeroed page in the snapshot, at a fresh address
  std::uint64_t read64(std::uint64_t pa) const;
  void write64(std::uint64_t pa, std::uint64_t value);

  // Root + context entry for `bdf` → `slptptr` with `did` (AW from `levels`, TT `tt`).
  void attach(std::uint16_t bdf, std::uint16_t did, std::uint64_t slptptr, unsigned levels = 4,
              unsigned tt = 0);
  std::uint64_t context_entry_pa(std::uint16_t bdf) const;
  // Maps [iova, iova + size) → pa with a leaf at `leaf_level` (1: 4K, 2: 2M, 3: 1G), creating
  // RW table entries on the way. Returns the address of the leaf entry.
  std::uint64_t map(std::uint64_t root, std::uint64_t iova, std::uint64_t pa, std::uint8_t perms,
                    unsigned leaf_level = 1, unsigned levels = 4);
  // Address of the table entry at `level` on the walk of `iova` (tables must exist).
  std::uint64_t entry_pa(std::uint64_t root, std::uint64_t iova, unsigned level,
                         unsigned levels = 4) const;

  static std::uint64_t sl_table_entry(std::uint64_t next, std::uint8_t perms);
  static std::uint64_t sl_leaf(std::uint64_t pa, std::uint8_t perms, unsigned level);

 private:
  snapshot::Snapshot snapshot_;
  std::uint64_t root_ = 0;
  std::uint64_t next_page_ = 0x100000;
};

}  // namespace kniommu::audit::testing
