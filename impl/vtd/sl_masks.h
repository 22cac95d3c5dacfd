// Reserved-bit masks of second-level paging entries for one hardware configuration, derived once
// from the layouts of formats.h (QEMU's vtd_spte_rsvd[] / vtd_spte_rsvd_large[], VT-d spec §9.8 and
// §3 item 21). Both sides use it: the driver asserts it never writes a reserved bit, the emulated
// unit raises fault 0xC when a present entry has one.
#pragma once

#include <array>

#include "vtd/formats.h"

namespace kniommu::vtd {

// The capabilities that decide which bits of an SL entry are reserved.
struct SlFormat {
  unsigned haw = 48;  // host address width: output-address bits at or above it are reserved
  bool snoop_control = false;  // ECAP.SC: SNP allowed on leaves
  bool device_tlb = false;     // ECAP.DT: TM allowed on leaves
  bool super_2m = false;       // CAP.SLLPS bit 0
  bool super_1g = false;       // CAP.SLLPS bit 1
};

inline constexpr unsigned kMaxLevels = 5;

struct SlReservedMasks {
  // Index = level (1..5); index 0 unused. table[1] is unused (level 1 entries are always leaves).
  std::array<std::uint64_t, kMaxLevels + 1> table{};
  std::array<std::uint64_t, kMaxLevels + 1> leaf{};
  // Whether a leaf may exist at the level: always at 1, at 2/3 when SLLPS advertises the size.
  std::array<bool, kMaxLevels + 1> leaf_allowed{};

  // True when the entry at `level` is a leaf (level 1, or PS at level 2/3).
  static constexpr bool is_leaf(unsigned level, std::uint64_t entry) {
    return level == 1 || ((level == 2 || level == 3) && (entry & ps_mask()) != 0);
  }
  // The bits of `entry` that must be zero at `level`. PS at a level or size the configuration
  // does not allow is reserved (VT-d spec §9.8: unsupported sizes are treated as reserved).
  constexpr std::uint64_t reserved(unsigned level, std::uint64_t entry) const {
    if (level == 1) return leaf[1];
    if ((entry & ps_mask()) != 0)
      return leaf_allowed[level] ? leaf[level] : (table[level] | ps_mask());
    return table[level];
  }
  constexpr bool reserved_clear(unsigned level, std::uint64_t entry) const {
    return (entry & reserved(level, entry)) == 0;
  }

 private:
  static constexpr std::uint64_t ps_mask() { return kSlTableEntry.mask_of(KNIOMMU_F("PS")); }
};

namespace detail {
// Bits at or above the host address width (up to bit 63; the layouts make 63:52 ignored or TM,
// so callers intersect with the ADDR field).
constexpr std::uint64_t above_haw(unsigned haw) { return haw >= 64 ? 0 : ~layout::low_bits(haw); }
// Reserved bits of a leaf layout under a configuration.
template <class L>
constexpr std::uint64_t leaf_mask(L l, const SlFormat& f) {
  std::uint64_t m = L::reserved_mask(0) | (l.mask_of(KNIOMMU_F("ADDR")) & above_haw(f.haw));
  if (!f.snoop_control) m |= l.mask_of(KNIOMMU_F("SNP"));
  if (!f.device_tlb) m |= l.mask_of(KNIOMMU_F("TM"));
  return m;
}
}  // namespace detail

constexpr SlReservedMasks derive_sl_masks(const SlFormat& f) {
  SlReservedMasks r;
  const std::uint64_t table = decltype(kSlTableEntry)::reserved_mask(0) |
                              (kSlTableEntry.mask_of(KNIOMMU_F("ADDR")) & detail::above_haw(f.haw));
  const std::uint64_t ps = kSlTableEntry.mask_of(KNIOMMU_F("PS"));
  for (unsigned level = 2; level <= kMaxLevels; ++level) {
    // PS is reserved in SL-PML4E/PML5E (QEMU's L4 mask includes 0x80).
    r.table[level] = level >= 4 ? (table | ps) : table;
  }
  r.leaf[1] = detail::leaf_mask(kSlPte4K, f);
  r.leaf[2] = detail::leaf_mask(kSlPte2M, f);
  r.leaf[3] = detail::leaf_mask(kSlPte1G, f);
  r.leaf_allowed[1] = true;
  r.leaf_allowed[2] = f.super_2m;
  r.leaf_allowed[3] = f.super_1g;
  return r;
}

}  // namespace kniommu::vtd
