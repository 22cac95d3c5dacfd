// Masks and field positions pulled out of the shared layouts (vtd/formats.h), so the emulator never
// re-types a bit position the layouts already define.
#pragma once

#include <cstdint>

#include "vtd/formats.h"

namespace kniommu::hw {

// Mask of the field `name` (KNIOMMU_F("...")) of layout `l`.
template <class L, class Name>
constexpr std::uint64_t mask_of(L, Name n) {
  return decltype(L::field(n))::mask;
}
// Value of the field `name` of layout `l` in the 64-bit word `w` (right-aligned).
template <class L, class Name>
constexpr std::uint64_t field_of(L, Name n, std::uint64_t w) {
  return decltype(L::field(n))::get(w);
}
// `w` with the field replaced.
template <class L, class Name>
constexpr std::uint64_t with_field(L, Name n, std::uint64_t w, std::uint64_t v) {
  return decltype(L::field(n))::set(w, v);
}

}  // namespace kniommu::hw
