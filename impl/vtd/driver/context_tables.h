// The root table and the per-bus context tables of one remapping unit (legacy mode,
// VT-d spec §9.1/§9.3). Context tables are allocated per bus on demand and kept
// until the unit is torn down (a bus that had a device attached is likely to get one again, and a
// context table that is never freed cannot be walked after free).
//
// Entries are written in the order the hardware requires: a context entry's hi word (DID, AW)
// first and the lo word with P last when it becomes present; the lo word (P) first when it is
// cleared. Invalidation is the caller's job (RemappingDriver). On a unit whose walks do not snoop
// the CPU caches (ECAP.C = 0, VT-d spec §10.4.3) every write is flushed (PhysMem::flush_cpu_cache)
// before the call returns: a new table whole before anything points at it, an entry after it is
// written, so the caller's invalidation always follows the flush. Not thread-safe.
#pragma once

#include <array>
#include <cstdint>

#include "kniommu/retcode.h"
#include "vtd/phys_mem.h"

namespace kniommu::vtd::driver {

struct ContextEntryValue {
  bool present = false;
  std::uint16_t did = 0;
  PhysAddr slptptr = 0;
  unsigned aw = 0;  // 1 = 3-level, 2 = 4-level, 3 = 5-level
};

class ContextTables {
 public:
  explicit ContextTables(PhysMem& mem) : mem_(mem) {}
  ~ContextTables();
  ContextTables(const ContextTables&) = delete;
  ContextTables& operator=(const ContextTables&) = delete;

  // Allocates the (zeroed) root table. `flush_cpu_cache`: the unit does not snoop (ECAP.C = 0).
  Retcode init(bool flush_cpu_cache);
  PhysAddr root() const { return root_; }

  // Makes sure bus `bus` has a context table (allocating it and setting the root entry present).
  // rcOutOfMemory leaves everything unchanged.
  Retcode ensure_bus(std::uint8_t bus);
  bool has_bus(std::uint8_t bus) const { return context_[bus] != 0; }

  // Requires has_bus(sid >> 8).
  void write_present(std::uint16_t sid, std::uint16_t did, PhysAddr slptptr, unsigned aw);
  void clear(std::uint16_t sid);
  ContextEntryValue read(std::uint16_t sid) const;

  std::uint64_t frames() const;  // root + context tables

 private:
  PhysAddr entry_address(std::uint16_t sid) const {
    return context_[sid >> 8] + std::uint64_t{sid & 0xFFu} * 16;
  }

  // The CPU-cache write-back of what was just written, when the unit needs it.
  void flushed(PhysAddr pa, std::size_t len);

  PhysMem& mem_;
  bool flush_ = false;
  PhysAddr root_ = 0;
  std::array<PhysAddr, 256> context_{};
};

}  // namespace kniommu::vtd::driver
