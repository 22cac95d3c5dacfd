// A Process: its handle table, its domains (at most one automatic), the grants and mappings its
// handles name, and its simulated virtual address space for KnIoDmaMap.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "kniommu/sim.h"
#include "kos/domain.h"
#include "kos/handle_table.h"
#include "kos/objects.h"

namespace kniommu::kos {

struct Process {
  explicit Process(KnPid id) : pid(id) {}
  KnPid pid;
  HandleTable handles;
  Domain* auto_domain = nullptr;
  std::map<const Domain*, std::unique_ptr<Domain>> domains;  // automatic + created
  std::map<const Grant*, std::unique_ptr<Grant>> grants;
  std::map<std::uint64_t, std::unique_ptr<Mapping>> mappings;  // by virtual address
  // Next virtual address handed out by KnIoDmaMap (bump allocation; never reused within a run so
  // a stale address can never alias a newer mapping).
  std::uint64_t next_va = 0x10000000000ull;
};

}  // namespace kniommu::kos
