// Compiled only by the negative CTest cases: each REJECT_* variant must fail to compile with the
// layout framework's static_assert message.
#include "vtd/layout.h"

namespace L = kniommu::vtd::layout;

#if defined(REJECT_overlap)
// ADDR starts at bit 11, on top of SNP.
constexpr auto kBad = L::make_layout<1>(L::field<0, 11, 1>(BOOST_HANA_STRING("SNP")),
                                        L::field<0, 11, 41>(BOOST_HANA_STRING("ADDR")));
#elif defined(REJECT_unknown_name)
constexpr auto kLayout = L::make_layout<1>(L::field<0, 0, 1>(BOOST_HANA_STRING("P")));
constexpr std::uint64_t kBad = decltype(kLayout)::get({1}, BOOST_HANA_STRING("Q"));
#elif defined(REJECT_too_wide)
constexpr auto kBad = L::make_layout<1>(L::field<0, 60, 8>(BOOST_HANA_STRING("TOP")));
#endif

int main() { return static_cast<int>(sizeof(kBad)); }
