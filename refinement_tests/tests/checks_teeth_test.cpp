// Every check added for issue 15 fails on a deliberately broken adapter: the built-in adapter
// wrapped so that one answer lies (a leaked frame, translation shown disabled, an error bit in
// FSTS, a protocol violation), plus the path-reach requirement and the skipped-check report.
// The mutants that break real code (FaultRecordOverwritten, SuperpageIgnoresSllps,
// PsiAddressUnaligned) are shown caught by the refinement.mutant.* entries.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "kniommu/builtin_adapter.h"
#include "kniommu/conformance.h"
#include "short_run.h"

namespace kniommu::conformance {
namespace {

const KnAdapterV1& real() { return *kniommu_builtin_adapter(); }

int g_frames_delta = 0;
std::set<KnAdapterSession*> g_measured;
void destroy_forgetting(KnAdapterSession* s) {
  g_measured.erase(s);
  real().system_destroy(s);
}
uint64_t frames_lying(KnAdapterSession* s) {
  // The first call of a session (the suite measures its fixed overhead) is honest, later ones are
  // off: deterministic per session, so a re-run of the failing case fails the same way.
  const bool first = g_measured.insert(s).second;
  return real().frames_in_use(s) + (first ? 0 : static_cast<uint64_t>(g_frames_delta));
}
// read_reg32 lying about one register: bits g_lie_clear cleared and g_lie_set set at g_lie_offset.
uint32_t g_lie_offset = 0, g_lie_clear = 0, g_lie_set = 0;
uint32_t register_lying(KnAdapterSession* s, uint32_t off) {
  const uint32_t v = real().read_reg32(s, off);
  return off == g_lie_offset ? (v & ~g_lie_clear) | g_lie_set : v;
}
uint64_t one_violation(KnAdapterSession*) { return 1; }

ConfigOutcome run(const KnAdapterV1& a, int cases = 3) {
  return run_conformance(a, short_run("l4_sp", cases)).outcomes.at(0);
}

// The run (of `cases` cases) fails, and the failure names what the check saw.
void expect_caught(const KnAdapterV1& a, const char* text, int cases = 3) {
  const ConfigOutcome o = run(a, cases);
  EXPECT_EQ(o.status, ConfigOutcome::Status::Failed);
  EXPECT_NE(o.failure.find(text), std::string::npos) << o.failure;
}

TEST(ChecksTeeth, FrameLeakIsReported) {
  KnAdapterV1 a = real();
  a.frames_in_use = frames_lying;
  a.system_destroy = destroy_forgetting;
  g_frames_delta = 1000;  // beyond any bound allowed for tables no device shows
  expect_caught(a, "frame leak");
}

void expect_register_lie_caught(uint32_t offset, uint32_t clear, uint32_t set, const char* text) {
  KnAdapterV1 a = real();
  a.read_reg32 = register_lying;
  g_lie_offset = offset;
  g_lie_clear = clear;
  g_lie_set = set;
  expect_caught(a, text);
}

TEST(ChecksTeeth, TranslationNotEnabledInGstsIsReported) {
  expect_register_lie_caught(0x1C, 1u << 31, 0, "GSTS");  // GSTS.TES clear
}

TEST(ChecksTeeth, QueueErrorInFstsIsReported) {
  expect_register_lie_caught(0x34, 0, 1u << 4, "error bit");  // FSTS.IQE set
}

TEST(ChecksTeeth, ProtocolViolationIsReported) {
  KnAdapterV1 a = real();
  a.protocol_violation_count = one_violation;
  expect_caught(a, "protocol violation");
}

// GetPhysInfo reports each new one-block buffer at the frame of the one-block buffer of that order
// before it, as an allocator handing out frames twice would: the overlap check
// (Sut::claim_frames) fails it.
std::map<uint64_t, uint64_t> g_last_frame;  // order -> frame
Retcode phys_info_reusing_frames(KnAdapterSession* s, KnPid pid, Handle h, DmaInfo** out) {
  const Retcode rc = real().dma_get_phys_info(s, pid, h, out);
  if (rc != rcOk || (*out)->count != 1) return rc;
  const uint64_t order = (*out)->descriptors[0].order;
  const uint64_t frame = (*out)->descriptors[0].frame;
  const auto [it, first] = g_last_frame.emplace(order, frame);
  if (!first) {
    (*out)->descriptors[0].frame = it->second;
    it->second = frame;
  }
  return rc;
}

TEST(ChecksTeeth, FramesOfTwoLiveBuffersOverlapIsReported) {
  KnAdapterV1 a = real();
  a.dma_get_phys_info = phys_info_reusing_frames;
  expect_caught(a, "overlap a live buffer's frames", 30);
}

// GetPhysInfo reports the last block of every multi-block buffer with the wrong order: the
// per-block check of the new buffer's descriptors (KNIOMMU_CHECK, commands.h) fails it.
Retcode phys_info_wrong_last_order(KnAdapterSession* s, KnPid pid, Handle h, DmaInfo** out) {
  const Retcode rc = real().dma_get_phys_info(s, pid, h, out);
  if (rc == rcOk && (*out)->count > 1) (*out)->descriptors[(*out)->count - 1].order ^= 1;
  return rc;
}

TEST(ChecksTeeth, WrongOrderOfOneBlockIsReported) {
  KnAdapterV1 a = real();
  a.dma_get_phys_info = phys_info_wrong_last_order;
  expect_caught(a, "check failed: static_cast<uint64_t>(info->descriptors[i].order) == buf.order (0x",
                10);
}

TEST(ChecksTeeth, AShortRunThatReachesTooLittleFails) {
  ConformanceOptions opt = short_run("l4_sp", 2);
  opt.require_paths = true;  // as a default run
  const ConfigOutcome o = run_conformance(real(), opt).outcomes.at(0);
  EXPECT_EQ(o.status, ConfigOutcome::Status::Failed);
  EXPECT_NE(o.failure.find("paths never reached"), std::string::npos) << o.failure;
}

TEST(ChecksTeeth, MissingRegisterEntriesAreCountedAsSkipped) {
  KnAdapterV1 a = real();
  a.read_reg32 = nullptr;
  a.write_reg32 = nullptr;
  a.write_reg64 = nullptr;
  const ConfigOutcome o = run(a, 2);
  EXPECT_EQ(o.failure.find("registers"), std::string::npos) << o.failure;
  ASSERT_FALSE(o.skipped.empty());
  EXPECT_GT(o.skipped.begin()->second, 0u);
}

TEST(ChecksTeeth, AnOldSmallerAdapterTableIsAcceptedWithoutTheLaterEntries) {
  KnAdapterV1 a = real();
  a.struct_size = static_cast<uint32_t>(KN_ADAPTER_V1_MIN_SIZE);
  const ConfigOutcome o = run(a, 2);
  EXPECT_NE(o.status, ConfigOutcome::Status::Error) << o.failure;
  EXPECT_FALSE(o.skipped.empty());
}

}  // namespace
}  // namespace kniommu::conformance
