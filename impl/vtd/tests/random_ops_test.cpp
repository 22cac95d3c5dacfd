// Random map/unmap sequences against a reference interval map (generic_pt test_random_map): after
// every operation the table must agree with the reference, never hold a reserved bit, keep its
// software child counts exact, and after a full unmap give every frame back.
#include <map>
#include <random>

#include "pt_fixture.h"

namespace kniommu::vtd {
namespace {

using namespace testing_support;

struct RefMapping {
  std::uint64_t end;
  PhysAddr pa;
  std::uint32_t perms;
};

class RandomOps : public PageTableTest {
 protected:
  // iova -> mapping, non-overlapping.
  std::map<std::uint64_t, RefMapping> ref_;

  bool ref_overlaps(std::uint64_t iova, std::uint64_t end) const {
    auto it = ref_.upper_bound(iova);
    if (it != ref_.begin() && std::prev(it)->second.end > iova) return true;
    return it != ref_.end() && it->first < end;
  }

  void check_reserved_and_counts() const {
    const auto& masks = pt_.reserved_masks();
    std::map<PhysAddr, unsigned> present_per_table;
    std::map<PhysAddr, unsigned> recorded;
    pt_.for_each_present_entry([&](unsigned level, PhysAddr at, std::uint64_t e) {
      ASSERT_TRUE(masks.reserved_clear(level, e)) << "level " << level << " entry " << std::hex << e
                                                  << " reserved " << masks.reserved(level, e);
      ++present_per_table[at & ~(kPageSize - 1)];
      if (!VtdSsFormat::is_leaf(level, e)) {
        EXPECT_GT(VtdSsFormat::child_count(e), 0u) << "an empty table stayed linked";
        recorded[VtdSsFormat::table_addr(e)] = VtdSsFormat::child_count(e);
      }
    });
    for (const auto& [table, count] : recorded) EXPECT_EQ(present_per_table[table], count);
  }

  void check_against_reference(std::mt19937_64& rng) const {
    for (const auto& [iova, m] : ref_) {
      for (std::uint64_t probe :
           {iova, m.end - 1, iova + ((rng() % (m.end - iova)) & ~std::uint64_t{7})}) {
        Translation t;
        ASSERT_EQ(pt_.translate(probe, &t), rcOk) << std::hex << probe;
        EXPECT_EQ(t.pa, m.pa + (probe - iova));
        EXPECT_EQ(t.perms, m.perms);
      }
      Translation t;
      if (!ref_overlaps(m.end, m.end + 1)) {
        EXPECT_NE(pt_.translate(m.end, &t), rcOk);
      }
    }
  }
};

TEST_P(RandomOps, AgreesWithReferenceAndNeverSetsReservedBits) {
  std::mt19937_64 rng(1234 + GetParam());
  const std::uint64_t space = 4 * GiB;  // dense enough to collide often
  const std::uint64_t sizes[] = {4 * KiB, 12 * KiB, 2 * MiB, 2 * MiB + 4 * KiB, 4 * MiB, 1 * GiB};
  for (int step = 0; step < 400; ++step) {
    const bool do_map = ref_.empty() || rng() % 3 != 0;
    if (do_map) {
      const std::uint64_t size = sizes[rng() % std::size(sizes)];
      std::uint64_t iova = (rng() % (space / (4 * KiB))) * 4 * KiB;
      if (rng() % 2) iova &= ~(2 * MiB - 1);
      PhysAddr pa = (rng() % (64 * GiB / (4 * KiB))) * 4 * KiB;
      if (rng() % 2) pa &= ~(2 * MiB - 1);
      if (rng() % 4 == 0) pa = iova;
      const std::uint32_t perms = 1 + static_cast<std::uint32_t>(rng() % 3);
      const Retcode rc = pt_.map(iova, pa, size, perms);
      if (ref_overlaps(iova, iova + size)) {
        ASSERT_EQ(rc, rcAlreadyExists) << step;
      } else {
        ASSERT_EQ(rc, rcOk) << step;
        ref_[iova] = {iova + size, pa, perms};
      }
    } else {
      // Unmap exactly one existing mapping (the API unmaps whole grants).
      auto it = std::next(ref_.begin(), static_cast<long>(rng() % ref_.size()));
      const auto p = unmap_and_complete(it->first, it->second.end - it->first);
      EXPECT_LE(p.first_iova(), it->first);
      EXPECT_GE(p.last_iova(), it->second.end - 1);
      ref_.erase(it);
    }
    // The full-table audit walks every entry (up to 2^18 with a GiB of small pages): every few
    // steps and at the end keeps the test fast; the translate checks run every step.
    if (step % 8 == 7) check_reserved_and_counts();
    check_against_reference(rng);
    if (HasFatalFailure()) return;
  }
  check_reserved_and_counts();
  while (!ref_.empty()) {
    unmap_and_complete(ref_.begin()->first, ref_.begin()->second.end - ref_.begin()->first);
    ref_.erase(ref_.begin());
  }
  EXPECT_EQ(snapshot(pt_).size(), 0u);
  EXPECT_EQ(mem_.frames_in_use(), 1u);
  EXPECT_EQ(mem_.bad_free_count(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Levels, RandomOps, ::testing::Values(3u, 4u, 5u),
                         [](const auto& p) { return std::to_string(p.param) + "level"; });

}  // namespace
}  // namespace kniommu::vtd
