// The fields of second-level paging entries that every reader of SL tables looks at, as masks
// derived once from the layouts of formats.h (VT-d spec §9.8). The emulator's walk and the audit's
// walk share these formats but walk with code of their own ("formats are shared, code paths are
// not", docs/architecture.md).
#pragma once

#include <cstdint>

#include "vtd/formats.h"

namespace kniommu::vtd::sl_fields {

inline constexpr std::uint64_t kRead = kSlTableEntry.mask_of(KNIOMMU_F("R"));
inline constexpr std::uint64_t kWrite = kSlTableEntry.mask_of(KNIOMMU_F("W"));
inline constexpr std::uint64_t kPageSize = kSlTableEntry.mask_of(KNIOMMU_F("PS"));
// The next table's address in a non-leaf entry.
inline constexpr std::uint64_t kTableAddr = kSlTableEntry.mask_of(KNIOMMU_F("ADDR"));
// The output address of a leaf at level 1, 2, 3 (4 KiB, 2 MiB, 1 GiB); index 0 unused.
inline constexpr std::uint64_t kLeafAddr[4] = {0, kSlPte4K.mask_of(KNIOMMU_F("ADDR")),
                                               kSlPte2M.mask_of(KNIOMMU_F("ADDR")),
                                               kSlPte1G.mask_of(KNIOMMU_F("ADDR"))};

}  // namespace kniommu::vtd::sl_fields
