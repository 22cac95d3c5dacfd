// Issue #8 part 3 (address arithmetic): lemmas over all 64-bit inputs, proved on the
// implementation's own code (impl/vtd/address_math.h instantiated with Z3Ops).
#include <array>
#include <cstdint>
#include <iostream>
#include <string>

#include <gtest/gtest.h>

#include "obligation.h"
#include "vtd/address_math.h"
#include "z3_ops.h"

namespace kniommu::proofs {
namespace {

namespace vtd = kniommu::vtd;

void report(const Outcome& o, Verdict expected) {
  std::cout << o.report << std::flush;
  EXPECT_EQ(o.verdict, expected) << o.report;
}

z3::expr bv(z3::context& c, std::uint64_t v) { return c.bv_val(v, 64); }

// recombine(split(iova)) == iova for every iova that fits the width; `guarded` = false drops the
// width precondition, which must then be refuted (the lemma is not vacuous).
Query split_recombine(Universe& u, unsigned width, bool guarded) {
  z3::context& c = u.ctx;
  const z3::expr iova = c.bv_const("iova", 64);
  const unsigned levels = (width - vtd::kOffsetBits) / vtd::kLevelBits;
  std::array<z3::expr, 5> idx = {bv(c, 0), bv(c, 0), bv(c, 0), bv(c, 0), bv(c, 0)};
  for (unsigned l = 1; l <= levels; ++l) idx[l - 1] = vtd::level_index<Z3Ops>(iova, l);
  const z3::expr back = vtd::recombine<Z3Ops>(idx, vtd::page_offset<Z3Ops>(iova), levels);
  z3::expr_vector hyp(c);
  if (guarded) hyp.push_back(vtd::fits_width<Z3Ops>(iova, width));
  // Every index is a 9-bit value (the table has 512 entries).
  z3::expr small = c.bool_val(true);
  for (unsigned l = 1; l <= levels; ++l)
    small = small && z3::ult(idx[l - 1], bv(c, vtd::kEntriesPerTable));
  return Query{hyp, back == iova && small, {{"iova", iova}, {"recombined", back}}};
}

class SplitRecombine : public ::testing::TestWithParam<unsigned> {};

TEST_P(SplitRecombine, Exact) {
  const unsigned w = GetParam();
  report(prove("split/recombine exact for " + std::to_string(w) + "-bit IOVAs",
               [w](Universe& u) { return split_recombine(u, w, true); }),
         Verdict::Proved);
}

TEST_P(SplitRecombine, NeedsWidthPrecondition) {
  const unsigned w = GetParam();
  report(prove("split/recombine without the width precondition, " + std::to_string(w) + " bits",
               [w](Universe& u) { return split_recombine(u, w, false); }),
         Verdict::Refuted);
}

INSTANTIATE_TEST_SUITE_P(Address, SplitRecombine, ::testing::Values(39u, 48u, 57u),
                         [](const auto& p) { return "Width" + std::to_string(p.param); });

// ---- Page-selective invalidation mask ----------------------------------------------------------

enum class PsiLemma { Covers, Smallest, InRange, NaiveRoundUpCovers };

Query psi(Universe& u, PsiLemma lemma) {
  z3::context& c = u.ctx;
  const z3::expr first = c.bv_const("first_pfn", 64), last = c.bv_const("last_pfn", 64);
  const z3::expr am = vtd::psi_mask<Z3Ops>(first, last);
  z3::expr_vector hyp(c);
  hyp.push_back(z3::ule(first, last));
  // The block PSI invalidates: the pages sharing first's bits above AM (hardware ignores the low
  // AM bits of ADDR), so it covers [first, last] iff last agrees with first above AM — and the
  // block base (first with the low AM bits cleared) is aligned to 2^AM by construction.
  const auto same_block = [&](const z3::expr& m) {
    return z3::lshr(first, m) == z3::lshr(last, m);
  };
  Watch watch = {{"first_pfn", first}, {"last_pfn", last}, {"am", am}};
  switch (lemma) {
    case PsiLemma::Covers:
      return Query{hyp, same_block(am), watch};
    case PsiLemma::Smallest:
      return Query{hyp, am == bv(c, 0) || !same_block(am - bv(c, 1)), watch};
    case PsiLemma::InRange:
      return Query{hyp, z3::ule(am, bv(c, 64)), watch};
    case PsiLemma::NaiveRoundUpCovers: {
      // The pre-2022 Linux computation: AM = ceil(log2(page count)). Must be refuted.
      const z3::expr count = last - first + bv(c, 1);
      z3::expr naive = bv(c, 64);
      for (unsigned k = 64; k-- > 0;) {
        naive = z3::ite(z3::ule(count, bv(c, std::uint64_t{1} << k)), bv(c, k), naive);
      }
      hyp.push_back(z3::ult(last, bv(c, std::uint64_t{1} << 40)));
      watch.emplace_back("naive_am", naive);
      return Query{hyp, same_block(naive), watch};
    }
  }
  return Query{hyp, c.bool_val(false), watch};
}

TEST(PsiMask, CoversTheWholeRange) {
  report(
      prove("PSI mask covers [first, last]", [](Universe& u) { return psi(u, PsiLemma::Covers); }),
      Verdict::Proved);
}
TEST(PsiMask, IsTheSmallest) {
  report(prove("PSI mask is the smallest covering one",
               [](Universe& u) { return psi(u, PsiLemma::Smallest); }),
         Verdict::Proved);
}
TEST(PsiMask, AtMost64) {
  report(prove("PSI mask is at most 64", [](Universe& u) { return psi(u, PsiLemma::InRange); }),
         Verdict::Proved);
}
TEST(PsiMask, RoundingUpTheCountIsNotEnough) {
  report(prove("rounded-up page count covers unaligned ranges (Linux 59bf3557cf2f bug class)",
               [](Universe& u) { return psi(u, PsiLemma::NaiveRoundUpCovers); }),
         Verdict::Refuted);
}

// ---- Superpages
// ----------------------------------------------------------------------------------

// A superpage leaf translates iova to base | (iova & (size-1)); that equals base + offset, and the
// frame round-trips through the ADDR field, exactly when base is aligned to the superpage size.
Query superpage(Universe& u, unsigned level, bool aligned) {
  z3::context& c = u.ctx;
  const std::uint64_t size = vtd::level_size(level);
  const unsigned shift = vtd::level_shift(level);
  const z3::expr base = c.bv_const("base", 64), iova = c.bv_const("iova", 64);
  const z3::expr low = bv(c, size - 1);
  z3::expr_vector hyp(c);
  hyp.push_back(z3::ult(base, bv(c, std::uint64_t{1} << 52)));
  if (aligned) hyp.push_back((base & low) == bv(c, 0));
  const z3::expr off = iova & low;
  const z3::expr field = Z3Ops::shr(base, shift);
  return Query{hyp,
               (base | off) == base + off && Z3Ops::shl(field, shift) == base &&
                   vtd::page_offset<Z3Ops>(base | off) == vtd::page_offset<Z3Ops>(iova),
               {{"base", base}, {"iova", iova}}};
}

class Superpage : public ::testing::TestWithParam<unsigned> {};

TEST_P(Superpage, AlignedBaseTranslatesExactly) {
  const unsigned l = GetParam();
  report(prove("aligned superpage translation, level " + std::to_string(l),
               [l](Universe& u) { return superpage(u, l, true); }),
         Verdict::Proved);
}
TEST_P(Superpage, UnalignedBaseDoesNot) {
  const unsigned l = GetParam();
  report(prove("unaligned superpage translation, level " + std::to_string(l),
               [l](Universe& u) { return superpage(u, l, false); }),
         Verdict::Refuted);
}

INSTANTIATE_TEST_SUITE_P(Address, Superpage, ::testing::Values(2u, 3u), [](const auto& p) {
  return p.param == 2 ? std::string("Size2M") : std::string("Size1G");
});

}  // namespace
}  // namespace kniommu::proofs
