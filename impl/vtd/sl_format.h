// Format policy of VT-d second-level (second-stage) entries, in the sense of Linux generic_pt's
// fmt/vtdss.h: how a table entry and a leaf are encoded and decoded. The walker (page_table.cpp)
// asks only these questions and never touches bits itself.
//
// Entry facts (VT-d spec §9.8): there is no present bit; an entry is present when R or W is set. A
// table entry is written R|W (permission is the AND over the walk, so non-leaf entries must not
// restrict). Leaves at level 2/3 carry PS. SNP/TM are never set (the reserved masks forbid them
// without SC/DT, and nothing here needs them).
//
// Software use of ignored bits: a table entry keeps, in its ignored bits 61:52 (field IGN52), the
// number of present entries in the table it points to, so unmap knows in O(1) when a table became
// empty and can be freed. Hardware ignores these bits in legacy mode.
#pragma once

#include <cstdint>

#include "vtd/address_math.h"
#include "vtd/formats.h"
#include "vtd/phys_mem.h"

namespace kniommu::vtd {

// Permissions of a mapping: bit 0 read, bit 1 write (the SL entry's R/W bits).
enum Perm : std::uint32_t { kPermNone = 0, kPermRead = 1, kPermWrite = 2, kPermReadWrite = 3 };

struct VtdSsFormat {
  using TableL = decltype(kSlTableEntry);
  using Pte4K = decltype(kSlPte4K);

  static constexpr std::uint64_t kPermMask = kPermReadWrite;
  static constexpr unsigned kCountLo = 52;
  static constexpr std::uint64_t count_mask() { return TableL::mask_of(KNIOMMU_F("IGN52")); }
  static constexpr std::uint64_t ps_mask() { return TableL::mask_of(KNIOMMU_F("PS")); }

  static constexpr bool present(std::uint64_t e) { return (e & kPermMask) != 0; }
  static constexpr bool is_leaf(unsigned level, std::uint64_t e) {
    return level == 1 || (level <= 3 && (e & ps_mask()) != 0);
  }
  static constexpr std::uint32_t perms(std::uint64_t e) {
    return static_cast<std::uint32_t>(e & kPermMask);
  }

  // Next-table address of a table entry.
  static constexpr PhysAddr table_addr(std::uint64_t e) {
    return e & TableL::mask_of(KNIOMMU_F("ADDR"));
  }
  // Output address of a leaf at `level`.
  static constexpr PhysAddr leaf_addr(unsigned level, std::uint64_t e) {
    switch (level) {
      case 1:
        return e & Pte4K::mask_of(KNIOMMU_F("ADDR"));
      case 2:
        return e & decltype(kSlPte2M)::mask_of(KNIOMMU_F("ADDR"));
      default:
        return e & decltype(kSlPte1G)::mask_of(KNIOMMU_F("ADDR"));
    }
  }

  // Present entries of the table a table entry points to (kept in the entry's ignored bits).
  static constexpr unsigned child_count(std::uint64_t e) {
    return static_cast<unsigned>(TableL::get({e}, KNIOMMU_F("IGN52")));
  }
  static constexpr std::uint64_t table_entry(PhysAddr table, unsigned child_count) {
    auto w = TableL::encode(boost::hana::make_pair(KNIOMMU_F("R"), 1u),
                            boost::hana::make_pair(KNIOMMU_F("W"), 1u));
    w[0] |= table & TableL::mask_of(KNIOMMU_F("ADDR"));
    TableL::set(w, KNIOMMU_F("IGN52"), child_count);
    return w[0];
  }
  static constexpr std::uint64_t with_child_count(std::uint64_t e, unsigned child_count) {
    layout::Words<1> w{e};
    TableL::set(w, KNIOMMU_F("IGN52"), child_count);
    return w[0];
  }
  static constexpr std::uint64_t leaf_entry(unsigned level, PhysAddr pa, std::uint32_t perm) {
    const std::uint64_t rw = perm & kPermMask;
    switch (level) {
      case 1:
        return rw | (pa & Pte4K::mask_of(KNIOMMU_F("ADDR")));
      case 2:
        return rw | ps_mask() | (pa & decltype(kSlPte2M)::mask_of(KNIOMMU_F("ADDR")));
      default:
        return rw | ps_mask() | (pa & decltype(kSlPte1G)::mask_of(KNIOMMU_F("ADDR")));
    }
  }
};

static_assert(VtdSsFormat::count_mask() >> VtdSsFormat::kCountLo >= kEntriesPerTable,
              "the ignored bits must hold a count of up to 512 entries");

}  // namespace kniommu::vtd
