// hex() renders numbers in the commands' texts (counterexamples, traces, failure messages) as a
// stream with std::hex and a "0x" prefix would.
#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>

#include "commands.h"

namespace kniommu::conformance {
namespace {

std::string streamed(uint64_t v) {
  std::ostringstream os;
  os << std::hex << "0x" << v;
  return os.str();
}

TEST(Hex, AsAHexStreamPrintsIt) {
  for (const uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{0xa}, uint64_t{0x8}, uint64_t{0x1000},
                           uint64_t{0xdeadbeef}, uint64_t{1} << 48, ~uint64_t{0}})
    EXPECT_EQ(hex(v), streamed(v));
  EXPECT_EQ(hex(0), "0x0");
  EXPECT_EQ(hex(0xABCDEF), "0xabcdef");
  EXPECT_EQ(hex(~uint64_t{0}), "0xffffffffffffffff");
}

}  // namespace
}  // namespace kniommu::conformance
