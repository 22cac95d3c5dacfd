// The run arithmetic both halves of the abstraction function rely on.
#include <gtest/gtest.h>

#include "runs.h"

namespace kniommu::conformance {
namespace {
using TRun = ::kniommu::conformance::Run;  // "Run" alone names testing::Test::Run in a TEST body

TEST(Runs, NormalizeMergesContiguousPagesOnly) {
  const Runs in = {{0x3000, 1, 0x13000, kPermR},
                   {0x1000, 2, 0x11000, kPermR},
                   {0x4000, 1, 0x99000, kPermR},
                   {0x5000, 1, 0x9A000, kPermR | kPermW}};
  const Runs out = normalize(in);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], (TRun{0x1000, 3, 0x11000, kPermR}));
  EXPECT_EQ(out[1], (TRun{0x4000, 1, 0x99000, kPermR}));
  EXPECT_EQ(out[2], (TRun{0x5000, 1, 0x9A000, kPermR | kPermW}));
}

TEST(Runs, SuperpageEqualsItsPages) {
  Runs pages;
  for (uint64_t i = 0; i < 512; ++i)
    pages.push_back({0x200000 + i * kPage, 1, 0x400000 + i * kPage, kPermW});
  EXPECT_EQ(normalize(pages), normalize({{0x200000, 512, 0x400000, kPermW}}));
}

TEST(Runs, CoversChecksTranslationAndPermission) {
  const Runs r = normalize({{0x1000, 2, 0x11000, kPermR | kPermW}, {0x3000, 1, 0x50000, kPermR}});
  EXPECT_TRUE(covers(r, 0x1000, 2, 0x11000, kPermR));
  EXPECT_TRUE(covers(r, 0x2000, 1, 0x12000, kPermW));
  EXPECT_FALSE(covers(r, 0x2000, 2, 0x12000, kPermR));  // 0x3000 is not contiguous in PA
  EXPECT_TRUE(covers(r, 0x3000, 1, 0x50000, kPermR));
  EXPECT_FALSE(covers(r, 0x3000, 1, 0x50000, kPermW));  // permission not granted
  EXPECT_FALSE(covers(r, 0x4000, 1, 0x51000, kPermR));  // not mapped
  EXPECT_FALSE(covers(r, 0x1000, 1, 0x12000, kPermR));  // wrong frame
}

TEST(Runs, OverlapDetected) {
  EXPECT_TRUE(has_overlap({{0x1000, 2, 0, kPermR}, {0x2000, 1, 0x9000, kPermR}}));
  EXPECT_FALSE(has_overlap({{0x1000, 1, 0, kPermR}, {0x2000, 1, 0x9000, kPermR}}));
}

}  // namespace
}  // namespace kniommu::conformance
