// The policy file: parse errors name their line; each policy rule fires on a system that
// breaks it and not on one that keeps it.
#include <gtest/gtest.h>

#include <algorithm>

#include "analysis/analysis.h"
#include "analysis/policy.h"
#include "render/render.h"
#include "table_builder.h"

namespace kniommu::audit {
namespace {

using testing::TableBuilder;
constexpr std::uint8_t RW = kRead | kWrite;
constexpr std::uint16_t kNic = 0x0010, kDisk = 0x0020;

std::size_t count(const Report& r, ViolationKind kind) {
  return static_cast<std::size_t>(
      std::count_if(r.violations.begin(), r.violations.end(),
                    [&](const Violation& v) { return v.kind == kind; }));
}

Policy policy(const std::string& text) {
  std::string error;
  auto p = parse_policy(text, error);
  EXPECT_TRUE(p.has_value()) << error;
  return p.value_or(Policy{});
}

std::string parse_error(const std::string& text) {
  std::string error;
  EXPECT_FALSE(parse_policy(text, error).has_value()) << text;
  return error;
}

TEST(Policy, ParseErrorsNameTheLine) {
  EXPECT_EQ(parse_error("device 00:02.0 net\nfrobnicate\n"),
            "line 2: unknown directive 'frobnicate' (device, allow, deny)");
  EXPECT_EQ(parse_error("device 00:2x.0 net"), "line 1: bad BDF '00:2x.0' (expected BB:DD.F)");
  EXPECT_EQ(parse_error("device 00:02.0 net\ndevice 00:02.0 disk"),
            "line 2: device 00:02.0 listed twice");
  EXPECT_NE(parse_error("device 00:02.0 net\nallow net 0x1000-0x1ffe RW").find("line 2: range"),
            std::string::npos);
  EXPECT_EQ(parse_error("device 00:02.0 net\nallow net 0x0-0xfff X"),
            "line 2: bad permission 'X' (R, W or RW)");
  EXPECT_EQ(parse_error("deny ghost 0x0-0xfff"), "zone 'ghost' has ranges but no device");
  EXPECT_TRUE(policy("# only comments\n\n").zone_of.empty());
}

struct System {
  TableBuilder b;
  std::uint64_t nic_root = b.new_page(), disk_root = b.new_page();
  System() {
    b.attach(kNic, 1, nic_root);
    b.attach(kDisk, 2, disk_root);
    b.map(nic_root, 0x1000, 0x40000000, RW);
    b.map(disk_root, 0x1000, 0x50000000, kRead);
  }
  Report audit(const Policy& p) { return analyze(b.snapshot(), Options{0, &p}); }
};

constexpr const char* kGood =
    "device 00:02.0 net\ndevice 00:04.0 disk\n"
    "allow net 0x40000000-0x40000fff RW\nallow disk 0x50000000-0x5fffffff R\n"
    "deny * 0x0-0xffffff\n";

TEST(Policy, AKeptPolicyGivesNoViolations) {
  System s;
  const auto r = s.audit(policy(kGood));
  EXPECT_TRUE(r.violations.empty()) << render_text(r);
  EXPECT_TRUE(r.has_policy);
}

TEST(Policy, UnlistedDevice) {
  System s;
  const auto r = s.audit(policy("device 00:02.0 net\n"));
  ASSERT_EQ(count(r, ViolationKind::kPolicyUnlisted), 1u) << render_text(r);
}

TEST(Policy, ReachOutsideAllowOrIntoDeny) {
  System s;
  s.b.map(s.nic_root, 0x2000, 0x40001000, RW);  // outside net's allow
  s.b.map(s.disk_root, 0x2000, 0x5000, kRead);  // inside the deny range
  const auto r = s.audit(policy(kGood));
  ASSERT_EQ(count(r, ViolationKind::kPolicyReach), 2u) << render_text(r);
  for (const auto& v : r.violations) {
    if (v.bdf == kNic) {
      EXPECT_EQ(v.ranges, (std::vector<Range>{{0x40001000, 1, RW}}));
    } else {
      EXPECT_EQ(v.ranges, (std::vector<Range>{{0x5000, 1, kRead}}));
    }
  }
}

TEST(Policy, WriteBeyondAnAllowedReadIsReach) {
  System s;
  s.b.write64(s.b.entry_pa(s.disk_root, 0x1000, 1), TableBuilder::sl_leaf(0x50000000, RW, 1));
  const auto r = s.audit(policy(kGood));
  ASSERT_EQ(count(r, ViolationKind::kPolicyReach), 1u) << render_text(r);
  EXPECT_EQ(r.violations[0].ranges, (std::vector<Range>{{0x50000000, 1, kWrite}}));
}

TEST(Policy, ZonesMeetingInADomainOrOnAWritablePage) {
  System s;
  s.b.map(s.disk_root, 0x3000, 0x40000000, kRead);  // disk reads the page net may write
  auto r = s.audit(policy("device 00:02.0 net\ndevice 00:04.0 disk\n"));
  ASSERT_EQ(count(r, ViolationKind::kPolicyZoneMix), 1u) << render_text(r);
  // The same two devices in one zone: no mix.
  r = s.audit(policy("device 00:02.0 net\ndevice 00:04.0 net\n"));
  EXPECT_EQ(count(r, ViolationKind::kPolicyZoneMix), 0u);
  // One domain for both (same DID and root): a mix even without a shared writable page.
  System t;
  t.b.attach(kDisk, 1, t.nic_root);
  r = t.audit(policy("device 00:02.0 net\ndevice 00:04.0 disk\n"));
  ASSERT_EQ(count(r, ViolationKind::kPolicyZoneMix), 1u) << render_text(r);
  EXPECT_NE(r.violations[0].message.find("share domain DID 1"), std::string::npos);
}

TEST(Policy, ABypassingDeviceReachesEverything) {
  System s;
  s.b.snapshot().devices = {{kDisk, snapshot::kDeviceBdfKnown | snapshot::kDeviceBypass, "virtio"}};
  const auto r = s.audit(policy(kGood));
  EXPECT_EQ(count(r, ViolationKind::kPolicyReach), 1u) << render_text(r);
}

}  // namespace
}  // namespace kniommu::audit
