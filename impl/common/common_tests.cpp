#include <gtest/gtest.h>

#include <string_view>

#include "common/failpoint.h"
#include "common/mutation.h"
#include "kniommu/retcode.h"

namespace kniommu {
namespace {

TEST(Retcode, ErrorsAreNegativeAndDistinct) {
  const Retcode all[] = {rcInvalidArgument, rcOutOfMemory,   rcBusy,           rcResourceNotFound,
                         rcAlreadyExists,   rcHandleRevoked, rcDeviceNotFound, rcNoCapability};
  const std::size_t n = std::size(all);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_LT(all[i], 0) << KnRetcodeName(all[i]);
    for (std::size_t j = i + 1; j < n; ++j) EXPECT_NE(all[i], all[j]) << KnRetcodeName(all[i]);
    EXPECT_NE(std::string_view(KnRetcodeName(all[i])), "rc?");
  }
  EXPECT_EQ(std::string_view(KnRetcodeName(rcOk)), "rcOk");
}

TEST(Failpoint, FailsExactlyTheArmedSite) {
  failpoint_arm(3);
  EXPECT_FALSE(failpoint_hit());
  EXPECT_FALSE(failpoint_hit());
  EXPECT_TRUE(failpoint_hit());
  EXPECT_FALSE(failpoint_hit());
  failpoint_disarm();
  EXPECT_FALSE(failpoint_hit());
}

#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
TEST(Mutation, NamesRoundTrip) {
  for (const auto& m : kMutants) {
    EXPECT_EQ(mutant_from_name(m.name), m.id);
    EXPECT_EQ(mutant_name(m.id), m.name);
  }
  EXPECT_FALSE(mutant_from_name("NoSuchMutant").has_value());
  EXPECT_GE(std::size(kMutants), 12u);
}

TEST(Mutation, ScopedSelection) {
  if (!kMutantsCompiled) GTEST_SKIP() << "built without KNIOMMU_MUTANTS";
  EXPECT_FALSE(mutant(Mutant::WriteForToDevice));
  {
    ScopedMutant s(Mutant::WriteForToDevice);
    EXPECT_TRUE(mutant(Mutant::WriteForToDevice));
  }
  EXPECT_FALSE(mutant(Mutant::WriteForToDevice));
}
#endif

}  // namespace
}  // namespace kniommu
