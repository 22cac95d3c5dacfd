// Directed reachability of the unmap / invalidation mutants: for each, the exact API sequence
// that exposes it, run through the same commands and the same refinement check as the random
// suite. Without the mutant every step refines the model; with it the check reports the bug
// right after the step that should have removed access. The sequences also pin down how the kos
// IOVA allocator places the grants (lowest fit from IOVA page 1; natural 2 MiB alignment only for
// order >= 9 buffers on superpage hardware), which is what makes the ranges unaligned.
#include <gtest/gtest.h>

#include <rapidcheck.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "common/mutation.h"
#include "kniommu/builtin_adapter.h"
#include "kniommu/conformance.h"
#include "sut.h"

namespace kniommu::conformance {
namespace {

constexpr model::Pid kPid = 1;
constexpr model::Bdf kDev = 0x0008;

// Activates a mutant through the adapter (as the mutation test does) for one scope.
class MutantScope {
 public:
  explicit MutantScope(const char* name) {
    ok_ = kniommu_builtin_adapter()->select_mutant(name) == rcOk;
  }
  ~MutantScope() { kniommu_builtin_adapter()->select_mutant(""); }
  MutantScope(const MutantScope&) = delete;
  MutantScope& operator=(const MutantScope&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
};

// A machine with processes 1 and 2, driven one command at a time.
// "qemu:<name>" runs the configuration with QEMU as the judge (docs/qemu-backend.md).
HwConfig script_config(const std::string& name) {
  const bool qemu = name.starts_with("qemu:");
  HwConfig c = *find_config_for(qemu ? name.substr(5) : name,
                                qemu ? KN_SIM_HARDWARE_QEMU : KN_SIM_HARDWARE_EMULATOR);
  if (qemu) c.sim.hardware = KN_SIM_HARDWARE_QEMU;
  return c;
}

class Script {
 public:
  explicit Script(const char* config)
      : sut_(*kniommu_builtin_adapter(), script_config(config), 2), gen_(sut_.model) {}
  bool ok() const { return sut_.ok(); }
  const Sut& sut() const { return sut_; }

  // Runs `c` (unless an earlier step failed) and returns the handle it created for `pid`.
  Handle step(const CmdPtr& c, model::Pid pid = kPid) {
    if (!failure_.empty()) return INVALID_HANDLE;
    const model::Process before = sut_.model.processes.at(pid);
    try {
      c->checkPreconditions(gen_);
      c->run(gen_, sut_);
      c->apply(gen_);
    } catch (const rc::detail::CaseResult& r) {
      std::ostringstream os;
      c->show(os);
      failure_ = os.str() + ": " + r.description;
      return INVALID_HANDLE;
    }
    for (const auto& [h, e] : sut_.model.processes.at(pid).handles)
      if (!before.handles.count(h)) return h;
    return INVALID_HANDLE;
  }
  // The IOVA range [first page, pages) the model recorded for a live grant handle.
  std::pair<uint64_t, uint64_t> grant_pages(Handle grant) const {
    const model::Grant& g =
        sut_.model.grants.at(sut_.model.processes.at(kPid).handles.at(grant).object);
    return {g.iova / kPage, g.pages};
  }
  // "" while every step refined the model, else the first failure.
  const std::string& failure() const { return failure_; }

 private:
  Sut sut_;
  model::State gen_;  // the generation model (handles as the commands were built against)
  std::string failure_;
};

DmaProbe probe(Handle grant, Edge edge) {
  DmaProbe p;
  p.bdf = kDev;
  p.len = 8;
  p.pid = kPid;
  p.handle = grant;
  p.edge = edge;
  return p;
}

// PsiMaskTooSmall: a 1-page grant takes IOVA page 1, a 3-page grant then pages 2..4. The correct
// PSI for 2..4 needs AM = 3 (pages 0..7); the naive AM = ceil(log2 3) = 2 covers 0..3 only, so the
// translation of page 4, cached by the probe, survives the close.
[[maybe_unused]] std::string psi_sequence(const char* config) {
  Script s(config);
  EXPECT_TRUE(s.ok());
  s.step(cmd::attach_device(kPid, kDev));
  const Handle one = s.step(cmd::dma_create(kPid, 0, 1 * kPage, DMA_DIR_BIDIR));
  s.step(cmd::dma_begin(kPid, one));
  const Handle three = s.step(cmd::dma_create(kPid, 0, 3 * kPage, DMA_DIR_BIDIR));
  const Handle grant = s.step(cmd::dma_begin(kPid, three));
  if (!s.failure().empty()) return s.failure();
  EXPECT_EQ(s.grant_pages(grant), std::make_pair(uint64_t{2}, uint64_t{3}));
  s.step(cmd::dma(probe(grant, Edge::LastPage)));  // page 4 into the IOTLB
  s.step(cmd::handle_close(kPid, grant, true));
  s.step(cmd::dma(probe(grant, Edge::LastPage)));  // must fault now
  return s.failure();
}

// One large grant at the start of a fresh automatic domain, probed at the first page past the
// first 2 MiB boundary inside it, closed, probed again. Returns the first failure.
std::string large_grant_sequence(const char* config, uint32_t order, uint64_t pages,
                                 uint64_t first_page) {
  Script s(config);
  EXPECT_TRUE(s.ok());
  s.step(cmd::attach_device(kPid, kDev));
  const Handle buf = s.step(cmd::dma_create(kPid, order, pages * kPage, DMA_DIR_BIDIR));
  const Handle grant = s.step(cmd::dma_begin(kPid, buf));
  if (!s.failure().empty()) return s.failure();
  EXPECT_EQ(s.grant_pages(grant), std::make_pair(first_page, pages));
  s.step(cmd::dma(probe(grant, Edge::AfterBoundary)));
  s.step(cmd::handle_close(kPid, grant, false));
  s.step(cmd::dma(probe(grant, Edge::AfterBoundary)));
  return s.failure();
}

// SuperpageSplitLeavesMapped: an order-9 buffer of two blocks is granted 2 MiB-aligned (IOVA
// page 512, the first aligned slot above page 0) and mapped as two 2 MiB leaves; the mutant's
// unmap clears only the first, the probe goes to the second.
std::string superpage_sequence(const char* config) {
  return large_grant_sequence(config, 9, 1024, 512);
}

// UnmapStopsAtTableBoundary: 600 pages of order 0 are granted at IOVA page 1 (4 KiB alignment), so
// the grant spans two leaf tables (pages 1..511 and 512..600); the mutant's unmap stops after the
// first, the probe goes to page 512.
std::string boundary_sequence(const char* config) {
  return large_grant_sequence(config, 0, 600, 1);
}

// DidReusedWithoutInvalidation: a created domain's grant is probed (its translation cached
// under the domain's DID), the domain handle is closed (teardown), a new domain gets the lowest
// free DID, the same one, and the device; the same probe must fault now. The teardown's
// domain-selective invalidation is what removes the stale entry. Returns the first failure.
std::string did_reuse_sequence(const char* config) {
  Script s(config);
  EXPECT_TRUE(s.ok());
  const Handle d1 = s.step(cmd::create_domain(kPid));
  s.step(cmd::attach_device_to_domain(kPid, kDev, d1));
  const Handle buf = s.step(cmd::dma_create(kPid, 0, 4 * kPage, DMA_DIR_BIDIR));
  const Handle grant = s.step(cmd::dma_begin_ex(kPid, buf, d1));
  s.step(cmd::dma(probe(grant, Edge::First)));
  s.step(cmd::handle_close(kPid, d1, false));
  const Handle d2 = s.step(cmd::create_domain(kPid));
  s.step(cmd::attach_device_to_domain(kPid, kDev, d2));
  s.step(cmd::dma(probe(grant, Edge::First)));
  return s.failure();
}

class DidReuse : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (std::string(GetParam()).starts_with("qemu:") &&
        std::system("command -v qemu-system-x86_64 >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "qemu-system-x86_64 not installed (Debian package qemu-system-x86)";
  }
};

TEST_P(DidReuse, RefinesWithoutTheMutant) { EXPECT_EQ(did_reuse_sequence(GetParam()), ""); }

// The emulator's cache check reports the stale entry right after the teardown or the attach; on
// QEMU (no cache snapshot) the probe through the stale entry reaches memory the model denies.
TEST_P(DidReuse, StaleEntryOfTheReusedDidIsReported) {
  if (!kniommu::kMutantsCompiled) GTEST_SKIP() << "mutants not compiled in (KNIOMMU_MUTANTS=OFF)";
  MutantScope m("DidReusedWithoutInvalidation");
  ASSERT_TRUE(m.ok());
  const std::string failure = did_reuse_sequence(GetParam());
  if (std::string(GetParam()).starts_with("qemu:")) {
    EXPECT_TRUE(failure.starts_with("Dma(bdf=0x8")) << failure;
    EXPECT_NE(failure.find("the model forbids it"), std::string::npos) << failure;
  } else {
    EXPECT_TRUE(failure.starts_with("HandleClose(pid=1, h=1)")) << failure;
  }
}

#if KNIOMMU_DIRECTED_QEMU
INSTANTIATE_TEST_SUITE_P(DidReusedWithoutInvalidation, DidReuse, ::testing::Values("qemu:l4_sp"),
                         [](const ::testing::TestParamInfo<const char*>&) {
                           return std::string("qemu_l4_sp");
                         });
#else
INSTANTIATE_TEST_SUITE_P(DidReusedWithoutInvalidation, DidReuse,
                         ::testing::Values("l4_sp", "l4_cm_tiny"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           return std::string(param.param);
                         });
#endif

#if !KNIOMMU_DIRECTED_QEMU
// A 1 GiB grant at IOVA 1 GiB on a unit without 1 GiB superpages, as the generator's 1 GiB
// scenario builds it (commands_scenario.cpp): a filler of 511 blocks of 2 MiB and one of 511
// pages take [4 KiB, 1 GiB) (with 2 MiB superpages the large one is 2 MiB aligned, [2 MiB,
// 1 GiB); without, it starts at 4 KiB, where no 2 MiB leaf can go), then an order-18 buffer is
// granted at 1 GiB with 1 GiB aligned frames: a page table ignoring SLLPS writes a 1 GiB leaf
// there, and nowhere else. Returns the first failure.
std::string giant_grant_sequence(const char* config) {
  Script s(config);
  EXPECT_TRUE(s.ok());
  s.step(cmd::attach_device(kPid, kDev));
  const Handle big = s.step(cmd::dma_create(kPid, 9, kOneGiB - kTwoMiB, DMA_DIR_BIDIR));
  s.step(cmd::dma_begin(kPid, big));
  const Handle small = s.step(cmd::dma_create(kPid, 0, kTwoMiB - kPage, DMA_DIR_BIDIR));
  s.step(cmd::dma_begin(kPid, small));
  const Handle buf = s.step(cmd::dma_create(kPid, DMA_ORDER_MAX, kOneGiB, DMA_DIR_BIDIR));
  const Handle grant = s.step(cmd::dma_begin(kPid, buf));
  if (!s.failure().empty()) return s.failure();
  EXPECT_EQ(s.grant_pages(grant), std::make_pair(kOneGiB / kPage, kOneGiB / kPage));
  s.step(cmd::dma(probe(grant, Edge::Last)));
  s.step(cmd::handle_close(kPid, grant, false));
  s.step(cmd::dma(probe(grant, Edge::Last)));
  return s.failure();
}

class GiantGrant : public ::testing::TestWithParam<const char*> {};

TEST_P(GiantGrant, RefinesWithoutTheMutant) {
  EXPECT_EQ(giant_grant_sequence(GetParam()), "");
}

// SuperpageIgnoresSllps where SLLPS lacks 1 GiB, in a sequence whose only wrong superpage is
// the 1 GiB one: the suite's table decoder (hw_view.cpp) reports the leaf right after the begin.
TEST_P(GiantGrant, OneGibLeafSllpsLacksIsReported) {
  if (!kniommu::kMutantsCompiled) GTEST_SKIP() << "mutants not compiled in (KNIOMMU_MUTANTS=OFF)";
  MutantScope m("SuperpageIgnoresSllps");
  ASSERT_TRUE(m.ok());
  const std::string failure = giant_grant_sequence(GetParam());
  EXPECT_TRUE(failure.starts_with("DmaBegin(pid=1, rid=")) << failure;
  EXPECT_NE(failure.find("superpage leaf of a size CAP.SLLPS does not advertise at iova "
                         "0x40000000"),
            std::string::npos)
      << failure;
}

INSTANTIATE_TEST_SUITE_P(SuperpageIgnoresSllps, GiantGrant,
                         ::testing::Values("l3_sp_nc", "l3_nosp", "l4_cm_tiny"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           return std::string(param.param);
                         });
#endif

struct Case {
  const char* mutant;
  std::string (*sequence)(const char*);
  const char* config;
  const char* expect;  // what the refinement check reports with the mutant
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.mutant << " on " << c.config; }

class DirectedMutant : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (std::string(GetParam().config).starts_with("qemu:") &&
        std::system("command -v qemu-system-x86_64 >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "qemu-system-x86_64 not installed (Debian package qemu-system-x86)";
  }
};

TEST_P(DirectedMutant, RefinesWithoutTheMutant) {
  EXPECT_EQ(GetParam().sequence(GetParam().config), "");
}

TEST_P(DirectedMutant, RefinementCheckReportsTheMutant) {
  if (!kniommu::kMutantsCompiled) GTEST_SKIP() << "mutants not compiled in (KNIOMMU_MUTANTS=OFF)";
  MutantScope m(GetParam().mutant);
  ASSERT_TRUE(m.ok());
  const std::string failure = GetParam().sequence(GetParam().config);
  EXPECT_TRUE(failure.starts_with("HandleClose(pid=1"))
      << "the failure must be reported right after the close:\n"
      << failure;
  EXPECT_NE(failure.find(GetParam().expect), std::string::npos) << failure;
}

#if KNIOMMU_DIRECTED_QEMU
// The two mutants whose exposing sequence (large grants) the random suite's QEMU budget rarely
// builds: the same sequences with QEMU as the judge (label qemu).
INSTANTIATE_TEST_SUITE_P(QemuMutants, DirectedMutant,
                         ::testing::Values(Case{"SuperpageSplitLeavesMapped", superpage_sequence,
                                                "qemu:l4_sp", "+512p"},
                                           Case{"UnmapStopsAtTableBoundary", boundary_sequence,
                                                "qemu:l4_sp", "reaches {[0x200000+"}),
                         [](const ::testing::TestParamInfo<Case>& param) {
                           return std::string(param.param.mutant) + "_qemu";
                         });
#else
INSTANTIATE_TEST_SUITE_P(
    Mutants, DirectedMutant,
    ::testing::Values(
        Case{"PsiMaskTooSmall", psi_sequence, "l4_sp", "IOTLB holds DID 0x1 iova 0x4000"},
        Case{"PsiMaskTooSmall", psi_sequence, "l4_cm_tiny", "IOTLB holds DID 0x1 iova 0x4000"},
        Case{"SuperpageSplitLeavesMapped", superpage_sequence, "l4_sp", "+512p"},
        Case{"SuperpageSplitLeavesMapped", superpage_sequence, "l3_sp_nc", "+512p"},
        Case{"UnmapStopsAtTableBoundary", boundary_sequence, "l4_sp", "reaches {[0x200000+"},
        Case{"UnmapStopsAtTableBoundary", boundary_sequence, "l3_nosp", "reaches {[0x200000+"}),
    [](const ::testing::TestParamInfo<Case>& param) {
      return std::string(param.param.mutant) + "_" + param.param.config;
    });
#endif

}  // namespace
}  // namespace kniommu::conformance
