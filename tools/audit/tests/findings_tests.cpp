// The metadata-free audit on hand-built tables: IOVA runs, and every finding fires on tables
// that have the property and stays quiet on tables that do not (the seeded case of each check).
#include <gtest/gtest.h>

#include <algorithm>

#include "analysis/analysis.h"
#include "analysis/findings.h"
#include "render/render.h"
#include "table_builder.h"

namespace kniommu::audit {
namespace {

using testing::TableBuilder;
constexpr std::uint8_t RW = kRead | kWrite;
constexpr std::uint16_t kA = 0x0010, kB = 0x0011, kC = 0x0018;

std::size_t count(const std::vector<Violation>& list, ViolationKind kind) {
  return static_cast<std::size_t>(
      std::count_if(list.begin(), list.end(), [&](const Violation& v) { return v.kind == kind; }));
}
const Violation* find(const std::vector<Violation>& list, ViolationKind kind) {
  for (const auto& v : list) {
    if (v.kind == kind) return &v;
  }
  return nullptr;
}

TEST(Findings, MappingsListIovaRunsMergedWhenBothSidesAreContiguous) {
  TableBuilder b;
  const auto root = b.new_page();
  b.attach(kA, 1, root);
  for (std::uint64_t i = 0; i < 3; ++i) b.map(root, 0x10000 + i * 4096, 0x40000000 + i * 4096, RW);
  b.map(root, 0x13000, 0x50000000, RW);         // IOVA contiguous, PA not: a new run
  b.map(root, 0x200000, 0x80000000, kRead, 2);  // a 2 MiB leaf
  const auto r = analyze(b.snapshot());
  ASSERT_EQ(r.devices.size(), 1u);
  EXPECT_EQ(r.devices[0].mappings, (std::vector<Mapping>{{0x10000, 0x40000000, 3, RW},
                                                         {0x13000, 0x50000000, 1, RW},
                                                         {0x200000, 0x80000000, 512, kRead}}));
}

TEST(Findings, ATableReachedTwiceListsBothIovaWindows) {
  TableBuilder b;
  const auto root = b.new_page();
  b.attach(kA, 1, root);
  b.map(root, 0x0, 0x40000000, RW);
  // A second level-2 entry pointing at the same level-1 table: IOVA 2 MiB aliases IOVA 0.
  const auto l2 = b.entry_pa(root, 0, 2);
  b.write64(l2 + 8, b.read64(l2));
  const auto r = analyze(b.snapshot());
  EXPECT_EQ(r.devices[0].mappings,
            (std::vector<Mapping>{{0x0, 0x40000000, 1, RW}, {0x200000, 0x40000000, 1, RW}}));
  EXPECT_EQ(r.devices[0].reach, (std::vector<Range>{{0x40000000, 1, RW}}));
  EXPECT_EQ(count(r.findings, ViolationKind::kAliasedPages), 1u) << render_text(r);
}

TEST(Findings, SharedDomainAcrossFunctions) {
  TableBuilder b;
  const auto root = b.new_page();
  b.map(root, 0x1000, 0x40000000, RW);
  b.attach(kA, 7, root);
  EXPECT_EQ(count(analyze(b.snapshot()).findings, ViolationKind::kSharedDomain), 0u);
  b.attach(kB, 7, root);
  const auto r = analyze(b.snapshot());
  const auto* f = find(r.findings, ViolationKind::kSharedDomain);
  ASSERT_NE(f, nullptr) << render_text(r);
  EXPECT_EQ(f->dids, std::vector<std::uint16_t>{7});
  EXPECT_NE(f->message.find("00:02.0, 00:02.1"), std::string::npos) << f->message;
  EXPECT_TRUE(r.violations.empty()) << "a finding is not a violation: " << render_text(r);
}

TEST(Findings, IdentityMapOfTheIsaRangeIsNamed) {
  TableBuilder b;
  const auto root = b.new_page();
  b.attach(kA, 1, root);
  b.map(root, 0x40000000, 0x50000000, RW);  // not identity
  EXPECT_EQ(count(analyze(b.snapshot()).findings, ViolationKind::kIdentityMap), 0u);
  for (std::uint64_t mb = 0; mb < 16; mb += 2) b.map(root, mb << 20, mb << 20, RW, 2);
  const auto r = analyze(b.snapshot());
  const auto* f = find(r.findings, ViolationKind::kIdentityMap);
  ASSERT_NE(f, nullptr) << render_text(r);
  EXPECT_EQ(f->ranges, (std::vector<Range>{{0, 4096, RW}}));
  EXPECT_NE(f->message.find("0-16 MiB"), std::string::npos) << f->message;
}

TEST(Findings, EmptyDomain) {
  TableBuilder b;
  const auto root = b.new_page();
  b.attach(kA, 1, root);
  auto r = analyze(b.snapshot());
  ASSERT_EQ(count(r.findings, ViolationKind::kEmptyDomain), 1u);
  const auto* empty = find(r.findings, ViolationKind::kEmptyDomain);
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->bdf, kA);
  b.map(root, 0x1000, 0x40000000, RW);
  EXPECT_EQ(count(analyze(b.snapshot()).findings, ViolationKind::kEmptyDomain), 0u);
}

TEST(Findings, SeveralIovasOnePhysicalPage) {
  TableBuilder b;
  const auto root = b.new_page();
  b.attach(kA, 1, root);
  b.map(root, 0x1000, 0x40000000, RW);
  b.map(root, 0x2000, 0x40001000, RW);
  EXPECT_EQ(count(analyze(b.snapshot()).findings, ViolationKind::kAliasedPages), 0u);
  b.map(root, 0x3000, 0x40001000, kWrite);  // a second 2 KiB fragment of the same page
  const auto r = analyze(b.snapshot());
  const auto* f = find(r.findings, ViolationKind::kAliasedPages);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->ranges, (std::vector<Range>{{0x40001000, 1, RW}}));
}

TEST(Findings, AliasSweepCountsOverlapsOfSuperpagesOnce) {
  const std::vector<Mapping> m = {
      {0x0, 0x200000, 512, RW}, {0x400000, 0x201000, 2, RW}, {0x500000, 0x600000, 1, RW}};
  EXPECT_EQ(aliased_pages(m), (std::vector<Range>{{0x201000, 2, RW}}));
}

TEST(Findings, ReadForcedWhenNoEntryIsWriteOnly) {
  TableBuilder b;
  const auto root = b.new_page();
  b.attach(kA, 1, root);
  b.map(root, 0x1000, 0x40000000, RW);
  EXPECT_EQ(count(analyze(b.snapshot()).findings, ViolationKind::kReadForced), 1u);
  b.map(root, 0x2000, 0x40001000, kWrite);  // one write-only entry: the OS does not force R
  EXPECT_EQ(count(analyze(b.snapshot()).findings, ViolationKind::kReadForced), 0u);
}

TEST(Findings, PlatformBypassIsAViolationAndNamesTheDevice) {
  TableBuilder b;
  const auto root = b.new_page();
  b.attach(kC, 3, root);
  b.snapshot().devices = {{kC, snapshot::kDeviceBdfKnown, "virtio-rng-pci"}};
  auto r = analyze(b.snapshot());
  EXPECT_EQ(count(r.violations, ViolationKind::kIommuBypass), 0u);
  EXPECT_EQ(r.devices[0].name, "virtio-rng-pci");
  b.snapshot().devices[0].flags |= snapshot::kDeviceBypass;
  r = analyze(b.snapshot());
  ASSERT_EQ(count(r.violations, ViolationKind::kIommuBypass), 1u);
  const auto* bypass = find(r.violations, ViolationKind::kIommuBypass);
  ASSERT_NE(bypass, nullptr);
  EXPECT_EQ(bypass->bdf, kC);
  EXPECT_TRUE(r.devices[0].bypasses_iommu);
  EXPECT_NE(render_text(r).find("BYPASSES THE IOMMU"), std::string::npos);
  EXPECT_NE(render_json(r).find("\"kind\":\"iommu-bypass\""), std::string::npos);
}

}  // namespace
}  // namespace kniommu::audit

namespace kniommu::audit {
namespace {

TEST(Findings, IovaListOfSelfReferencingTablesIsCutAndSaysSo) {
  TableBuilder b;
  const auto root = b.new_page();
  b.attach(0x0008, 1, root);
  for (std::uint64_t i = 0; i < 512; ++i)
    b.write64(root + 8 * i, TableBuilder::sl_table_entry(root, kRead | kWrite));
  const auto r = analyze(b.snapshot());
  EXPECT_TRUE(r.devices[0].mappings_truncated);
  EXPECT_TRUE(std::any_of(r.findings.begin(), r.findings.end(), [](const Violation& v) {
    return v.kind == ViolationKind::kMappingsTruncated;
  }));
  EXPECT_NE(render_text(r).find("more runs (all of them in --format json)"), std::string::npos);
  // Physical reach stays exact: the one table page.
  EXPECT_EQ(r.devices[0].reach, (std::vector<Range>{{root, 1, kRead | kWrite}}));
}

}  // namespace
}  // namespace kniommu::audit
