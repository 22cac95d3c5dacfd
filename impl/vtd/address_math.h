// Address arithmetic of second-level translation, written once over an abstract word type so the
// same code runs in production (uint64_t) and in the Z3 proofs (z3::expr bit-vectors), which prove
// it correct for all 64-bit inputs on this very code.
//
// An `Ops` policy supplies:
//   using Word;                                   // the word type
//   static Word constant(const Word& like, std::uint64_t v);   // a literal (z3 needs a context)
//   static Word shl(const Word& w, unsigned k);   // shifts by constants only
//   static Word shr(const Word& w, unsigned k);   // logical
//   static Word select(const Cond& c, const Word& a, const Word& b);   // c ? a : b
// plus the operators & | ^ ~ == != on Word. No loops depend on data; the only loop is bounded by
// 64 iterations.
#pragma once

#include <array>
#include <cstdint>

namespace kniommu::vtd {

struct U64Ops {
  using Word = std::uint64_t;
  static constexpr Word constant(const Word&, std::uint64_t v) { return v; }
  static constexpr Word shl(Word w, unsigned k) { return k >= 64 ? 0 : w << k; }
  static constexpr Word shr(Word w, unsigned k) { return k >= 64 ? 0 : w >> k; }
  static constexpr Word select(bool c, Word a, Word b) { return c ? a : b; }
};

inline constexpr unsigned kLevelBits = 9;    // 512 entries per table
inline constexpr unsigned kOffsetBits = 12;  // 4 KiB pages
inline constexpr unsigned kEntriesPerTable = 1u << kLevelBits;
inline constexpr std::uint64_t kEntryBytes = 8;  // one 64-bit table entry

// Bit position where the index of `level` (1 = PT ... 5 = PML5) starts: 12, 21, 30, 39, 48.
constexpr unsigned level_shift(unsigned level) { return kOffsetBits + kLevelBits * (level - 1); }
// Bytes mapped by one entry at `level`: 4 KiB, 2 MiB, 1 GiB, 512 GiB, 256 TiB.
constexpr std::uint64_t level_size(unsigned level) {
  return std::uint64_t{1} << level_shift(level);
}

// The 9-bit table index of `iova` at `level`.
template <class Ops>
constexpr typename Ops::Word level_index(const typename Ops::Word& iova, unsigned level) {
  return Ops::shr(iova, level_shift(level)) & Ops::constant(iova, kEntriesPerTable - 1);
}

// The offset of `iova` inside its 4 KiB page.
template <class Ops>
constexpr typename Ops::Word page_offset(const typename Ops::Word& iova) {
  return iova & Ops::constant(iova, (std::uint64_t{1} << kOffsetBits) - 1);
}

// Inverse of the split for a walk of `levels` levels: indices[l-1] is the index at level l (only
// its low 9 bits are used). recombine(split(iova)) == iova for every iova below 2^(12+9*levels).
template <class Ops>
constexpr typename Ops::Word recombine(const std::array<typename Ops::Word, 5>& indices,
                                       const typename Ops::Word& offset, unsigned levels) {
  const auto nine = Ops::constant(offset, kEntriesPerTable - 1);
  auto v = offset & Ops::constant(offset, (std::uint64_t{1} << kOffsetBits) - 1);
  for (unsigned l = 1; l <= levels && l <= 5; ++l) {
    v = v | Ops::shl(indices[l - 1] & nine, level_shift(l));
  }
  return v;
}

// True when `iova` fits in `width` address bits.
template <class Ops>
constexpr auto fits_width(const typename Ops::Word& iova, unsigned width) {
  return Ops::shr(iova, width) == Ops::constant(iova, 0);
}

// Page-selective invalidation mask (AM) for the page-frame range [first_pfn, last_pfn]
// (first_pfn <= last_pfn): the smallest AM such that one naturally aligned block of 2^AM pages
// covers the whole range. That is the bit length of first ^ last: the block is identified by the
// bits the two ends share. Rounding the page count up to a power of two is NOT enough when the
// range is unaligned (Linux 59bf3557cf2f, docs/vtd-facts.md "Known pitfalls"). Result is in 0..64;
// 64 means only a whole-address-space block covers it.
template <class Ops>
constexpr typename Ops::Word psi_mask(const typename Ops::Word& first_pfn,
                                      const typename Ops::Word& last_pfn) {
  const auto diff = first_pfn ^ last_pfn;
  const auto zero = Ops::constant(first_pfn, 0);
  auto am = zero;
  for (unsigned k = 0; k < 64; ++k) {
    am = Ops::select(Ops::shr(diff, k) != zero, Ops::constant(first_pfn, k + 1), am);
  }
  return am;
}

// The block's first page frame: first_pfn with its low `am` bits cleared (am as a constant).
constexpr std::uint64_t psi_base(std::uint64_t first_pfn, unsigned am) {
  return am >= 64 ? 0 : first_pfn & ~((std::uint64_t{1} << am) - 1);
}

}  // namespace kniommu::vtd
