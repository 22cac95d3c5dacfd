// The snapshot file format: round trip, and every truncation and single-bit flip of a valid
// snapshot is either rejected with an error or read as a valid snapshot — never a crash (run
// under ASan/UBSan in CI; the libFuzzer run in tools/audit/fuzz explores beyond bit flips).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "snapshot/reader.h"
#include "snapshot/writer.h"

namespace kniommu::snapshot {
namespace {

Snapshot sample() {
  Snapshot s;
  s.regs = {0x00d2008c40660462ull, 0xf0101aull, 0x80000000ull, 0x1000};
  Page root{};
  root[0] = 0x01;
  root[1] = 0x20;  // bus 0 -> context table at 0x2000, present
  s.pages.emplace(0x1000, root);
  Page ctx{};
  ctx[8] = 0x05;
  s.pages.emplace(0x2000, ctx);
  s.processes = {{1, "nic-driver"}, {2, ""}};
  s.domains = {{1, 1, DomainKind::kAutomatic}, {2, 7, DomainKind::kCreated}};
  s.buffers = {{1, 3, kPermRead | kPermWrite, {{0x10000, 4}, {0x40000, 1}}},
               {2, 1, kPermRead, {{0x20000, 2}}}};
  return s;
}

bool same(const Snapshot& a, const Snapshot& b) {
  if (a.regs.cap != b.regs.cap || a.regs.ecap != b.regs.ecap || a.regs.gsts != b.regs.gsts ||
      a.regs.rtaddr != b.regs.rtaddr || a.pages != b.pages ||
      a.processes.size() != b.processes.size() || a.domains.size() != b.domains.size() ||
      a.buffers.size() != b.buffers.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.processes.size(); ++i) {
    if (a.processes[i].pid != b.processes[i].pid || a.processes[i].name != b.processes[i].name)
      return false;
  }
  for (std::size_t i = 0; i < a.domains.size(); ++i) {
    if (a.domains[i].pid != b.domains[i].pid || a.domains[i].did != b.domains[i].did ||
        a.domains[i].kind != b.domains[i].kind) {
      return false;
    }
  }
  for (std::size_t i = 0; i < a.buffers.size(); ++i) {
    if (a.buffers[i].pid != b.buffers[i].pid || a.buffers[i].id != b.buffers[i].id ||
        a.buffers[i].perms != b.buffers[i].perms || a.buffers[i].ranges != b.buffers[i].ranges) {
      return false;
    }
  }
  return true;
}

TEST(SnapshotFormat, RoundTripPreservesEverything) {
  const auto original = sample();
  const auto bytes = write_snapshot(original);
  const auto result = read_snapshot(bytes);
  ASSERT_TRUE(result.snapshot) << result.error.to_string();
  EXPECT_TRUE(same(original, *result.snapshot));
  EXPECT_EQ(write_snapshot(*result.snapshot), bytes);
}

TEST(SnapshotFormat, EveryTruncationIsRejectedWithAnError) {
  const auto bytes = write_snapshot(sample());
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    const auto result = read_snapshot(std::span(bytes.data(), length));
    ASSERT_FALSE(result.snapshot) << "accepted a truncation to " << length << " bytes";
    EXPECT_FALSE(result.error.message.empty());
    EXPECT_LE(result.error.offset, length);
  }
}

TEST(SnapshotFormat, EveryBitFlipIsReadOrRejectedNeverCrashes) {
  const auto bytes = write_snapshot(sample());
  std::size_t rejected = 0;
  for (std::size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    auto flipped = bytes;
    flipped[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    const auto result = read_snapshot(flipped);
    if (!result.snapshot) {
      ++rejected;
      EXPECT_FALSE(result.error.message.empty());
    }
  }
  // Flips in page contents and register values are legal snapshots; flips in the framing are not.
  EXPECT_GT(rejected, 0u);
}

struct BadCase {
  const char* what;
  std::size_t offset;  // byte to overwrite
  std::uint8_t value;
  const char* expected_fragment;
};

TEST(SnapshotFormat, ErrorsNameTheProblem) {
  const auto bytes = write_snapshot(sample());
  const BadCase cases[] = {
      {"magic", 0, 'X', "bad magic"},
      {"version", 8, 2, "unsupported version 2"},
      {"flags", 10, 1, "header flags"},
      {"first record", 16, 2, "first record must be REGISTERS"},
  };
  for (const auto& c : cases) {
    auto bad = bytes;
    bad[c.offset] = c.value;
    const auto result = read_snapshot(bad);
    ASSERT_FALSE(result.snapshot) << c.what;
    EXPECT_NE(result.error.message.find(c.expected_fragment), std::string::npos)
        << c.what << ": " << result.error.to_string();
  }
}

TEST(SnapshotFormat, MetadataMustNameDeclaredProcesses) {
  auto s = sample();
  s.domains.push_back({9, 12, DomainKind::kCreated});
  const auto result = read_snapshot(write_snapshot(s));
  ASSERT_FALSE(result.snapshot);
  EXPECT_NE(result.error.message.find("undeclared process 9"), std::string::npos);
}

TEST(SnapshotFormat, DuplicatesAreRejected) {
  auto s = sample();
  s.domains.push_back({2, 7, DomainKind::kCreated});
  EXPECT_FALSE(read_snapshot(write_snapshot(s)).snapshot);
  s = sample();
  s.buffers.push_back(s.buffers.front());
  EXPECT_FALSE(read_snapshot(write_snapshot(s)).snapshot);
}

TEST(SnapshotFormat, SkippableUnknownRecordsAreIgnoredOthersRejected) {
  auto bytes = write_snapshot(sample());
  const std::size_t end = bytes.size() - kRecordHeaderSize;  // the END record
  auto with = [&](std::uint32_t tag) {
    auto b = bytes;
    const std::uint8_t rec[] = {static_cast<std::uint8_t>(tag),
                                static_cast<std::uint8_t>(tag >> 8),
                                static_cast<std::uint8_t>(tag >> 16),
                                static_cast<std::uint8_t>(tag >> 24),
                                2,
                                0,
                                0,
                                0,
                                0xAB,
                                0xCD};
    b.insert(b.begin() + static_cast<std::ptrdiff_t>(end), std::begin(rec), std::end(rec));
    return read_snapshot(b);
  };
  EXPECT_TRUE(with(kTagSkippable | 77).snapshot);
  const auto rejected = with(77);
  ASSERT_FALSE(rejected.snapshot);
  EXPECT_NE(rejected.error.message.find("unknown record tag 77"), std::string::npos);
}

}  // namespace
}  // namespace kniommu::snapshot
