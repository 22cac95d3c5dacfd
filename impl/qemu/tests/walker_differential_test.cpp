// The walker differential as a test: every disagreement between our emulator and QEMU fails it,
// except the ones listed in docs/qemu-backend.md as QEMU deviating from the VT-d specification.
#include <cstdio>

#include "qemu/tests/qemu_test_util.h"
#include "qemu/tests/walker_differential.h"

namespace kniommu::qemu::diff {
namespace {

TEST(WalkerDifferential, EmulatorAgreesWithQemu) {
  KNIOMMU_REQUIRE_QEMU();
  auto emu = make_emulator_side();
  std::unique_ptr<Side> qemu;
  std::string err;
  ASSERT_EQ(make_qemu_side(&qemu, &err), rcOk) << err;
  const Report r = run_differential(*emu, *qemu, 12, 40);
  std::printf("walker differential: %llu structures, %llu probes, %zu disagreements\n",
              static_cast<unsigned long long>(r.structures),
              static_cast<unsigned long long>(r.probes), r.disagreements.size());
  for (const auto& [kind, n] : r.structures_by_kind)
    std::printf("  %-16s %llu structures\n", kind.c_str(), static_cast<unsigned long long>(n));
  for (const auto& [why, lines] : r.explained) {
    std::printf("  explained (%s): %zu\n",
                why == Explained::kQemuSilentWriteBlock ? "QEMU deviation: silent write block"
                                                        : "legal: QEMU dropped a cached entry",
                lines.size());
    for (const std::string& d : lines) std::printf("    %s\n", d.c_str());
  }
  for (const std::string& d : r.disagreements) std::printf("  DISAGREE %s\n", d.c_str());
  EXPECT_TRUE(r.disagreements.empty());
  EXPECT_GT(r.probes, 1000u);
  // Regression: QEMU 7.2's silent write block is still there (if this fails, QEMU changed:
  // update docs/qemu-backend.md and the suite's handling of it).
  EXPECT_TRUE(r.explained.count(Explained::kQemuSilentWriteBlock) != 0);
}

// QEMU with aw-bits=39: only 3-level tables are legal (SAGAW 0x2), 4-level context entries and
// IOVAs above 2^39 must fault the same way on both.
TEST(WalkerDifferential, EmulatorAgreesWithQemuAw39) {
  KNIOMMU_REQUIRE_QEMU();
  auto emu = make_emulator_side(0, 39);
  std::unique_ptr<Side> qemu;
  std::string err;
  ASSERT_EQ(make_qemu_side(&qemu, &err, 39), rcOk) << err;
  const Report r = run_differential(*emu, *qemu, 39, 20);
  std::printf("walker differential (aw-bits=39): %llu structures, %llu probes, %zu disagreements\n",
              static_cast<unsigned long long>(r.structures),
              static_cast<unsigned long long>(r.probes), r.disagreements.size());
  for (const auto& [why, lines] : r.explained)
    std::printf("  explained (%s): %zu\n",
                why == Explained::kQemuSilentWriteBlock ? "QEMU deviation: silent write block"
                                                        : "legal: QEMU dropped a cached entry",
                lines.size());
  for (const std::string& d : r.disagreements) std::printf("  DISAGREE %s\n", d.c_str());
  EXPECT_TRUE(r.disagreements.empty());
  EXPECT_GT(r.probes, 1000u);
}

// The comparison has teeth: the same emulator against itself agrees; against a copy with a seeded
// walker difference it disagrees (runs without QEMU).
TEST(WalkerDifferential, CatchesSeededWalkerDifferences) {
  {
    auto a = make_emulator_side();
    auto b = make_emulator_side();
    const Report r = run_differential(*a, *b, 12, 10);
    EXPECT_TRUE(r.disagreements.empty());
    EXPECT_TRUE(r.explained.empty());
  }
  for (int bug : {1, 2, 3}) {
    auto a = make_emulator_side();
    auto b = make_emulator_side(bug);
    const Report r = run_differential(*a, *b, 12, 10);
    EXPECT_FALSE(r.disagreements.empty()) << "seeded bug " << bug << " not noticed";
  }
}

}  // namespace
}  // namespace kniommu::qemu::diff
