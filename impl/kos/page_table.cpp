#include "kos/page_table.h"

namespace kniommu::kos {

PendingTableFrees::~PendingTableFrees() {
  // Every path calls release() after its invalidation; a record still holding frames here would be
  // a leak, so free them rather than lose them (they are unreachable from the tree already).
  if (record_.frame_count() != 0) table_.complete(record_);
}

Retcode DomainPageTable::create(vtd::PhysMem& mem, const vtd::PageTableConfig& config,
                                std::unique_ptr<DomainPageTable>* out) {
  std::unique_ptr<DomainPageTable> t(new DomainPageTable(mem, config));
  if (Retcode rc = t->table_.init(); rc != rcOk) return rc;
  *out = std::move(t);
  return rcOk;
}

Retcode DomainPageTable::map(std::uint64_t iova, vtd::PhysAddr pa, std::uint64_t bytes, bool read,
                             bool write) {
  const std::uint32_t perms = (read ? vtd::kPermRead : 0u) | (write ? vtd::kPermWrite : 0u);
  return table_.map(iova, pa, bytes, perms);
}

void DomainPageTable::unmap(std::uint64_t iova, std::uint64_t bytes, PendingTableFrees& pending) {
  // Grants unmap exactly what they mapped (aligned, in range), so this cannot fail.
  (void)table_.unmap(iova, bytes, pending.record());
}

}  // namespace kniommu::kos
