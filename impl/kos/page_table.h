// One domain's second-level page table, as impl/kos uses it: vtd::SecondLevelPageTable plus the
// grant-level conveniences (permission from booleans, a pending record that knows its table).
// Table frames an unmap empties stay allocated (cached walks may still reach them) until
// PendingTableFrees::release() runs after the covering invalidation's wait descriptor completed.
#pragma once

#include <cstdint>
#include <memory>

#include "kniommu/retcode.h"
#include "vtd/page_table.h"
#include "vtd/phys_mem.h"

namespace kniommu::kos {

class DomainPageTable;

class PendingTableFrees {
 public:
  explicit PendingTableFrees(vtd::SecondLevelPageTable& table) : table_(table) {}
  ~PendingTableFrees();  // releases anything left: callers release() explicitly after invalidating
  PendingTableFrees(const PendingTableFrees&) = delete;
  PendingTableFrees& operator=(const PendingTableFrees&) = delete;

  bool empty() const { return record_.empty(); }
  void release() { table_.complete(record_); }
  vtd::PendingInvalidation& record() { return record_; }

 private:
  vtd::SecondLevelPageTable& table_;
  vtd::PendingInvalidation record_;
};

class DomainPageTable {
 public:
  static Retcode create(vtd::PhysMem& mem, const vtd::PageTableConfig& config,
                        std::unique_ptr<DomainPageTable>* out);
  DomainPageTable(const DomainPageTable&) = delete;
  DomainPageTable& operator=(const DomainPageTable&) = delete;

  vtd::PhysAddr root() const { return table_.root(); }
  // Maps [iova, iova + bytes) to [pa, pa + bytes) with the largest pages alignment and SLLPS allow.
  // rcOutOfMemory leaves the table exactly as before.
  Retcode map(std::uint64_t iova, vtd::PhysAddr pa, std::uint64_t bytes, bool read, bool write);
  void unmap(std::uint64_t iova, std::uint64_t bytes, PendingTableFrees& pending);
  std::unique_ptr<PendingTableFrees> new_pending() {
    return std::make_unique<PendingTableFrees>(table_);
  }
  std::uint64_t frames() const { return table_.table_frames(); }

 private:
  DomainPageTable(vtd::PhysMem& mem, const vtd::PageTableConfig& config) : table_(mem, config) {}
  vtd::SecondLevelPageTable table_;
};

}  // namespace kniommu::kos
