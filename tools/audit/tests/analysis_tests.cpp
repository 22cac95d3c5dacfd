// The audit on hand-built tables: every rule fires on a system that breaks it and stays quiet on
// one that does not; reach is exactly what the tables map, merged into ranges.
#include <gtest/gtest.h>

#include <algorithm>

#include "analysis/analysis.h"
#include "render/render.h"
#include "table_builder.h"
#include "vtd/caps.h"

namespace kniommu::audit {
namespace {

using snapshot::DomainKind;
using testing::TableBuilder;
constexpr std::uint8_t RW = kRead | kWrite;
constexpr std::uint16_t kNic = 0x0008;   // 00:01.0
constexpr std::uint16_t kDisk = 0x0010;  // 00:02.0
constexpr std::uint64_t kBufA = 0x40000000;
constexpr std::uint64_t kBufB = 0x50000000;

std::size_t count(const Report& r, ViolationKind kind) {
  return static_cast<std::size_t>(
      std::count_if(r.violations.begin(), r.violations.end(),
                    [&](const Violation& v) { return v.kind == kind; }));
}
// The first violation of `kind`, or an empty one (so a missing violation fails the expectations
// that follow instead of crashing the test).
const Violation& find(const Report& r, ViolationKind kind) {
  static const Violation kNone;
  for (const auto& v : r.violations) {
    if (v.kind == kind) return v;
  }
  return kNone;
}

// Two processes, each with a device in its own domain mapping exactly its own buffer.
struct TwoProcesses {
  TableBuilder b;
  std::uint64_t root1 = b.new_page();
  std::uint64_t root2 = b.new_page();
  TwoProcesses() {
    b.attach(kNic, 1, root1);
    b.attach(kDisk, 2, root2);
    for (std::uint64_t i = 0; i < 3; ++i) b.map(root1, 0x1000 * i, kBufA + 0x1000 * i, RW);
    b.map(root2, 0x0, kBufB, kRead);
    auto& s = b.snapshot();
    s.processes = {{10, "nic-driver"}, {20, "disk-driver"}};
    s.domains = {{10, 1, DomainKind::kAutomatic}, {20, 2, DomainKind::kCreated}};
    s.buffers = {{10, 1, RW, {{kBufA, 3}}}, {20, 1, kRead, {{kBufB, 1}}}};
  }
};

TEST(Audit, CleanSystemHasNoViolationsAndMergedReach) {
  TwoProcesses t;
  const auto r = analyze(t.b.snapshot());
  EXPECT_TRUE(r.violations.empty()) << render_text(r);
  ASSERT_EQ(r.devices.size(), 2u);
  EXPECT_EQ(r.devices[0].bdf, kNic);
  EXPECT_EQ(r.devices[0].did, 1);
  EXPECT_EQ(r.devices[0].owner, 10u);
  EXPECT_EQ(r.devices[0].reach, (std::vector<Range>{{kBufA, 3, RW}}));
  EXPECT_EQ(r.devices[1].reach, (std::vector<Range>{{kBufB, 1, kRead}}));
  ASSERT_EQ(r.processes.size(), 2u);
  EXPECT_EQ(r.processes[1].devices, std::vector<std::uint16_t>{kDisk});
  EXPECT_EQ(r.processes[1].reach, r.devices[1].reach);
}

TEST(Audit, PermissionsAreAndedOverTheWalk) {
  TwoProcesses t;
  // Make the top-level entry of domain 1 read-only: the RW leaves become read-only.
  const auto top = t.b.entry_pa(t.root1, 0, 4);
  t.b.write64(top, (t.b.read64(top) & ~std::uint64_t{2}));
  const auto r = analyze(t.b.snapshot());
  EXPECT_EQ(r.devices[0].reach, (std::vector<Range>{{kBufA, 3, kRead}}));
}

TEST(Audit, SuperpageLeafIsOneRange) {
  TableBuilder b;
  const auto root = b.new_page();
  b.attach(kNic, 1, root);
  b.map(root, 0x200000, 0x80000000, RW, 2);
  const auto r = analyze(b.snapshot());
  EXPECT_EQ(r.devices[0].reach, (std::vector<Range>{{0x80000000, 512, RW}}));
}

TEST(Audit, PagesOutsideTheOwnersBuffersAreReported) {
  TwoProcesses t;
  t.b.map(t.root1, 0x10000, 0x60000000, kWrite);
  const auto r = analyze(t.b.snapshot());
  ASSERT_EQ(count(r, ViolationKind::kOutsideBuffers), 1u) << render_text(r);
  const auto& v = find(r, ViolationKind::kOutsideBuffers);
  EXPECT_EQ(v.bdf, kNic);
  EXPECT_EQ(v.ranges, (std::vector<Range>{{0x60000000, 1, kWrite}}));
}

TEST(Audit, WriteAccessToAReadOnlyBufferIsExcessPermission) {
  TwoProcesses t;
  t.b.write64(t.b.entry_pa(t.root2, 0, 1), TableBuilder::sl_leaf(kBufB, RW, 1));
  const auto r = analyze(t.b.snapshot());
  ASSERT_EQ(count(r, ViolationKind::kExcessPermission), 1u) << render_text(r);
  EXPECT_EQ(find(r, ViolationKind::kExcessPermission).ranges,
            (std::vector<Range>{{kBufB, 1, kWrite}}));
  EXPECT_EQ(count(r, ViolationKind::kOutsideBuffers), 0u);
}

TEST(Audit, TwoProcessesSharingAWritablePageIsReported) {
  TwoProcesses t;
  t.b.map(t.root2, 0x5000, kBufA + 0x1000, kRead);  // the disk reads a page the NIC may write
  const auto r = analyze(t.b.snapshot());
  ASSERT_EQ(count(r, ViolationKind::kSharedWritable), 1u) << render_text(r);
  const auto& v = find(r, ViolationKind::kSharedWritable);
  EXPECT_EQ(v.pids, (std::vector<std::uint32_t>{10, 20}));
  EXPECT_EQ(v.ranges, (std::vector<Range>{{kBufA + 0x1000, 1, RW}}));
}

TEST(Audit, SharingReadOnlyPagesIsNotAViolation) {
  TwoProcesses t;
  t.b.map(t.root1, 0x7000, kBufB, kRead);
  t.b.snapshot().buffers[0].ranges.push_back({kBufB, 1});  // and it is in process 10's buffers
  const auto r = analyze(t.b.snapshot());
  EXPECT_EQ(count(r, ViolationKind::kSharedWritable), 0u) << render_text(r);
}

TEST(Audit, WithoutMetadataDomainsAreThePrincipals) {
  TwoProcesses t;
  t.b.map(t.root2, 0x5000, kBufA, kWrite);
  auto& s = t.b.snapshot();
  s.processes.clear();
  s.domains.clear();
  s.buffers.clear();
  const auto r = analyze(s);
  ASSERT_EQ(count(r, ViolationKind::kSharedWritable), 1u);
  EXPECT_EQ(find(r, ViolationKind::kSharedWritable).dids, (std::vector<std::uint16_t>{1, 2}));
  EXPECT_EQ(count(r, ViolationKind::kOutsideBuffers), 0u);
}

TEST(Audit, ReservedBitsUsePerLevelMasksAndCutTheWalk) {
  TwoProcesses t;
  // SNP (bit 11) on a leaf is reserved without ECAP.SC; that page becomes unreachable.
  const auto leaf = t.b.entry_pa(t.root1, 0x1000, 1);
  t.b.write64(leaf, t.b.read64(leaf) | (1u << 11));
  auto r = analyze(t.b.snapshot());
  ASSERT_EQ(count(r, ViolationKind::kReservedBits), 1u) << render_text(r);
  EXPECT_EQ(find(r, ViolationKind::kReservedBits).pa, leaf);
  EXPECT_EQ(r.devices[0].reach, (std::vector<Range>{{kBufA, 1, RW}, {kBufA + 0x2000, 1, RW}}));
  // With ECAP.SC the same bit is legal.
  auto ecap = vtd::EcapReg::from(t.b.snapshot().regs.ecap);
  t.b.set_ecap(ecap.set_sc(1).raw());
  r = analyze(t.b.snapshot());
  EXPECT_EQ(count(r, ViolationKind::kReservedBits), 0u);
}

TEST(Audit, ReservedBitInAContextEntryIsReported) {
  TwoProcesses t;
  const auto ctx = t.b.context_entry_pa(kDisk);
  t.b.write64(ctx + 8, t.b.read64(ctx + 8) | (1u << 7));
  const auto r = analyze(t.b.snapshot());
  ASSERT_EQ(count(r, ViolationKind::kReservedBits), 1u);
  EXPECT_EQ(find(r, ViolationKind::kReservedBits).bdf, kDisk);
  EXPECT_EQ(r.devices.size(), 1u);  // the unit faults that device's requests
}

TEST(Audit, TablePageInTwoDomainsIsReported) {
  TwoProcesses t;
  // Domain 2's PML4 entry 1 points at domain 1's PDPT.
  const auto pdpt =
      TableBuilder::sl_table_entry(t.b.read64(t.b.entry_pa(t.root1, 0, 4)) & ~0xFFFull, RW);
  t.b.write64(t.root2 + 8, pdpt);
  const auto r = analyze(t.b.snapshot());
  EXPECT_GE(count(r, ViolationKind::kSharedTablePage), 1u) << render_text(r);
  EXPECT_EQ(find(r, ViolationKind::kSharedTablePage).dids, (std::vector<std::uint16_t>{1, 2}));
}

TEST(Audit, OneDidWithTwoRootsIsAConflict) {
  TwoProcesses t;
  const auto other = t.b.new_page();
  t.b.attach(0x0018, 1, other);
  const auto r = analyze(t.b.snapshot());
  EXPECT_EQ(count(r, ViolationKind::kDidConflict), 1u);
}

TEST(Audit, MissingTablePageIsReportedNotFatal) {
  TwoProcesses t;
  t.b.attach(0x0018, 3, 0x7770000);
  t.b.snapshot().domains.push_back({10, 3, DomainKind::kCreated});
  const auto r = analyze(t.b.snapshot());
  ASSERT_EQ(count(r, ViolationKind::kMissingPage), 1u);
  EXPECT_EQ(find(r, ViolationKind::kMissingPage).pa, 0x7770000u);
}

TEST(Audit, PassThroughReachesEverything) {
  TwoProcesses t;
  auto ecap = vtd::EcapReg::from(t.b.snapshot().regs.ecap);
  t.b.set_ecap(ecap.set_pt(1).raw());
  t.b.attach(0x0018, 3, 0, 4, 2);
  t.b.snapshot().domains.push_back({10, 3, DomainKind::kCreated});
  const auto r = analyze(t.b.snapshot());
  EXPECT_EQ(count(r, ViolationKind::kPassThrough), 1u);
  EXPECT_EQ(page_count(r.devices.back().reach), std::uint64_t{1} << 36);
  EXPECT_GE(count(r, ViolationKind::kSharedWritable), 1u);
}

TEST(Audit, AbsurdAddressWidthIsClamped) {
  TwoProcesses t;
  auto cap = vtd::CapReg::from(t.b.snapshot().regs.cap);
  t.b.set_cap(cap.set_mgaw(0).raw());  // claims a 1-bit address width
  auto ecap = vtd::EcapReg::from(t.b.snapshot().regs.ecap);
  t.b.set_ecap(ecap.set_pt(1).raw());
  t.b.attach(0x0018, 3, 0, 4, 2);
  const auto r = analyze(t.b.snapshot());
  EXPECT_EQ(r.haw, 12u);
  // Every table address is then at or above HAW: reserved, so the unit would fault everything.
  EXPECT_TRUE(r.devices.empty());
  EXPECT_GE(count(r, ViolationKind::kReservedBits), 1u);
}

TEST(Audit, PassThroughWithoutEcapPtIsInvalid) {
  TwoProcesses t;
  t.b.attach(0x0018, 3, 0, 4, 2);
  const auto r = analyze(t.b.snapshot());
  EXPECT_EQ(count(r, ViolationKind::kInvalidEntry), 1u);
  EXPECT_EQ(count(r, ViolationKind::kPassThrough), 0u);
}

TEST(Audit, LevelsNotInSagawAreInvalid) {
  TwoProcesses t;
  t.b.attach(0x0018, 3, t.b.new_page(), 5);
  const auto r = analyze(t.b.snapshot());
  EXPECT_EQ(count(r, ViolationKind::kInvalidEntry), 1u) << render_text(r);
}

TEST(Audit, DisabledTranslationIsReported) {
  TwoProcesses t;
  t.b.disable_translation();
  EXPECT_EQ(count(analyze(t.b.snapshot()), ViolationKind::kTranslationDisabled), 1u);
}

TEST(Audit, DeviceOfAnUnownedDomainIsReported) {
  TwoProcesses t;
  t.b.snapshot().domains.pop_back();
  const auto r = analyze(t.b.snapshot());
  ASSERT_EQ(count(r, ViolationKind::kUnownedDomain), 1u);
  EXPECT_EQ(find(r, ViolationKind::kUnownedDomain).bdf, kDisk);
}

TEST(Audit, DeviceReachingATablePageIsReported) {
  TwoProcesses t;
  t.b.map(t.root1, 0x20000, t.root1, RW);  // the NIC can rewrite its own page table
  const auto r = analyze(t.b.snapshot());
  ASSERT_EQ(count(r, ViolationKind::kReachesTables), 1u);
  EXPECT_EQ(find(r, ViolationKind::kReachesTables).ranges, (std::vector<Range>{{t.root1, 1, RW}}));
}

TEST(Audit, SelfReferencingTablesTerminate) {
  TableBuilder b;
  const auto root = b.new_page();
  b.attach(kNic, 1, root);
  for (std::uint64_t i = 0; i < 512; ++i)
    b.write64(root + 8 * i, TableBuilder::sl_table_entry(root, RW));
  // 512^4 walks without the visited set; at level 1 the entries are leaves onto the table itself.
  const auto r = analyze(b.snapshot());
  EXPECT_EQ(r.devices[0].reach, (std::vector<Range>{{root, 1, RW}}));
  EXPECT_EQ(count(r, ViolationKind::kReachesTables), 1u);
}

TEST(Audit, RenderingsNameDevicesAndViolations) {
  TwoProcesses t;
  t.b.map(t.root1, 0x10000, 0x60000000, kWrite);
  const auto r = analyze(t.b.snapshot());
  const auto text = render_text(r);
  EXPECT_NE(text.find("00:01.0"), std::string::npos);
  EXPECT_NE(text.find("[outside-buffers]"), std::string::npos);
  EXPECT_NE(text.find("nic-driver"), std::string::npos);
  const auto json = render_json(r);
  EXPECT_EQ(std::count(json.begin(), json.end(), '{'), std::count(json.begin(), json.end(), '}'));
  EXPECT_NE(json.find("\"kind\":\"outside-buffers\""), std::string::npos);
  EXPECT_NE(json.find("\"pa\":\"0x60000000\""), std::string::npos);
  const auto dot = render_dot(r);
  EXPECT_EQ(dot.rfind("digraph kniommu {", 0), 0u);
  EXPECT_NE(dot.find("p10 -> d1"), std::string::npos);
  EXPECT_NE(dot.find("color=red"), std::string::npos);
}

}  // namespace
}  // namespace kniommu::audit
