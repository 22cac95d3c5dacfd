// The layout framework itself: field arithmetic, per-word masks, lookup by name, encode, and both
// iteration interfaces (the Z3 proofs rely on for_each_field visiting every field exactly once).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vtd/layout.h"

namespace kniommu::vtd::layout {
namespace {

constexpr auto kDemo = make_layout<2>(
    field<0, 0, 1>(BOOST_HANA_STRING("P")), reserved<0, 1, 11>(BOOST_HANA_STRING("RSVD")),
    field<0, 12, 52>(BOOST_HANA_STRING("PTR")), field<1, 8, 16>(BOOST_HANA_STRING("ID")),
    ignored<1, 3, 4>(BOOST_HANA_STRING("SW")));
using Demo = decltype(kDemo);

TEST(Layout, FieldArithmetic) {
  constexpr auto x = field<0, 8, 16>(BOOST_HANA_STRING("X"));
  using F = decltype(x);
  static_assert(F::mask == 0xFFFF00);
  EXPECT_EQ(F::get(0x12345678), 0x3456u);
  EXPECT_EQ(F::set(0xFFFFFFFF, 0), 0xFF0000FFu);
  // Value bits beyond the width never spill into neighbours.
  EXPECT_EQ(F::set(0, 0x1ABCD), 0xABCD00u);
  EXPECT_TRUE(F::fits(0xFFFF));
  EXPECT_FALSE(F::fits(0x10000));
  constexpr auto full = field<0, 0, 64>(BOOST_HANA_STRING("W"));
  using Full = decltype(full);
  static_assert(Full::mask == ~std::uint64_t{0});
  EXPECT_EQ(Full::get(0xFEDCBA9876543210), 0xFEDCBA9876543210u);
}

TEST(Layout, MasksPerWord) {
  static_assert(Demo::reserved_mask(0) == 0xFFE);
  static_assert(Demo::reserved_mask(1) == 0);
  EXPECT_EQ(Demo::value_mask(0), 0xFFFFFFFFFFFFF001u);
  EXPECT_EQ(Demo::value_mask(1), 0xFFFF00u);
  EXPECT_EQ(Demo::ignored_mask(1), 0x78u);
  EXPECT_EQ(Demo::described_mask(1), 0xFFFF78u);
  EXPECT_FALSE(Demo::fully_described());
}

TEST(Layout, GetSetEncodeByName) {
  constexpr auto v = Demo::encode(hana::make_pair(BOOST_HANA_STRING("P"), 1u),
                                  hana::make_pair(BOOST_HANA_STRING("PTR"), 0xABCDEu),
                                  hana::make_pair(BOOST_HANA_STRING("ID"), 0x1234u));
  static_assert(v[0] == 0xABCDE001 && v[1] == 0x123400);
  EXPECT_EQ(Demo::get(v, BOOST_HANA_STRING("ID")), 0x1234u);
  auto w = v;
  Demo::set(w, BOOST_HANA_STRING("ID"), 0xBEEF);
  EXPECT_EQ(w[1], 0xBEEF00u);
  EXPECT_TRUE(Demo::reserved_clear(w));
  w[0] |= 0x10;
  EXPECT_FALSE(Demo::reserved_clear(w));
}

TEST(Layout, CompileTimeIterationVisitsEveryFieldOnce) {
  std::vector<std::string> names;
  Words<2> covered{};
  for_each_field(kDemo, [&](auto f) {
    using F = decltype(f);
    names.emplace_back(F::c_name());
    EXPECT_EQ(covered[F::word] & F::mask, 0u);
    covered[F::word] |= F::mask;
  });
  EXPECT_EQ(names, (std::vector<std::string>{"P", "RSVD", "PTR", "ID", "SW"}));
  EXPECT_EQ(covered[0], Demo::described_mask(0));
  EXPECT_EQ(covered[1], Demo::described_mask(1));
}

TEST(Layout, RunTimeIterationMatchesCompileTime) {
  constexpr auto infos = Demo::infos();
  static_assert(infos.size() == 5);
  static_assert(infos[2].lo == 12 && infos[2].width == 52 && infos[2].word == 0);
  std::vector<std::string> seen;
  for_each_field_info(kDemo, [&](const FieldInfo& i) {
    seen.push_back(std::string(i.name) + "@" + std::to_string(i.word) + ":" + std::to_string(i.lo) +
                   "+" + std::to_string(i.width) + "/" + kind_name(i.kind));
  });
  EXPECT_EQ(seen,
            (std::vector<std::string>{"P@0:0+1/value", "RSVD@0:1+11/reserved-zero",
                                      "PTR@0:12+52/value", "ID@1:8+16/value", "SW@1:3+4/ignored"}));
}

}  // namespace
}  // namespace kniommu::vtd::layout
