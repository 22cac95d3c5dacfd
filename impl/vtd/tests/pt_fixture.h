// Shared fixture for the page-table tests: a SecondLevelPageTable of 3, 4 or 5 levels over the
// simulated physical memory of impl/hw, plus helpers to snapshot the whole table.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "hw/sim_phys_mem.h"
#include "vtd/page_table.h"

namespace kniommu::vtd::testing_support {

inline constexpr std::uint64_t KiB = 1024;
inline constexpr std::uint64_t MiB = 1024 * KiB;
inline constexpr std::uint64_t GiB = 1024 * MiB;

inline PageTableConfig config_for(unsigned levels, bool super_2m = true, bool super_1g = true) {
  PageTableConfig c;
  c.levels = levels;
  c.input_width = width_for_levels(levels);
  c.format = SlFormat{48, false, false, super_2m, super_1g};
  return c;
}

// One present entry as seen by a walk: where it is and what it holds.
struct EntrySnapshot {
  unsigned level;
  PhysAddr at;
  std::uint64_t value;
  friend bool operator==(const EntrySnapshot&, const EntrySnapshot&) = default;
};

inline std::vector<EntrySnapshot> snapshot(const SecondLevelPageTable& pt) {
  std::vector<EntrySnapshot> out;
  pt.for_each_present_entry([&](unsigned level, PhysAddr at, std::uint64_t e) {
    out.push_back({level, at, e});
  });
  return out;
}

// Leaves per level (index 1..3).
inline std::array<unsigned, 4> leaf_counts(const SecondLevelPageTable& pt) {
  std::array<unsigned, 4> n{};
  pt.for_each_present_entry([&](unsigned level, PhysAddr, std::uint64_t e) {
    if (VtdSsFormat::is_leaf(level, e)) ++n[level];
  });
  return n;
}

class PageTableTest : public ::testing::TestWithParam<unsigned> {
 protected:
  PageTableTest() : mem_(4 * GiB), pt_(mem_, config_for(GetParam())) {}
  void SetUp() override { ASSERT_EQ(pt_.init(), rcOk); }

  bool mapped(std::uint64_t iova) const {
    Translation t;
    return pt_.translate(iova, &t) == rcOk;
  }
  // Unmap + invalidation "completed" + complete(): the sequence the API layer performs.
  PendingInvalidation unmap_and_complete(std::uint64_t iova, std::uint64_t size) {
    PendingInvalidation p;
    EXPECT_EQ(pt_.unmap(iova, size, p), rcOk);
    PendingInvalidation copy = p;
    pt_.complete(p);
    return copy;
  }

  hw::SimPhysMem mem_;
  SecondLevelPageTable pt_;
};

}  // namespace kniommu::vtd::testing_support
