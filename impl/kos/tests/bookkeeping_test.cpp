// Unit tests of the bookkeeping building blocks: the handle table and the IOVA allocator.
#include <gtest/gtest.h>

#include "common/failpoint.h"
#include "kos/handle_table.h"
#include "kos/iova_allocator.h"

namespace kniommu::kos {
namespace {

TEST(HandleTable, SmallestFreeValueFromOne) {
  HandleTable t;
  Mapping m1, m2, m3;
  ASSERT_EQ(t.reserve(), rcOk);
  EXPECT_EQ(t.insert(ObjectKind::Mapping, &m1), 1u);
  ASSERT_EQ(t.reserve(), rcOk);
  EXPECT_EQ(t.insert(ObjectKind::Mapping, &m2), 2u);
  ASSERT_EQ(t.reserve(), rcOk);
  EXPECT_EQ(t.insert(ObjectKind::Mapping, &m3), 3u);
  t.erase(2);
  t.erase(1);
  ASSERT_EQ(t.reserve(), rcOk);
  EXPECT_EQ(t.insert(ObjectKind::Mapping, &m1), 1u);
  ASSERT_EQ(t.reserve(), rcOk);
  EXPECT_EQ(t.insert(ObjectKind::Mapping, &m2), 2u);
  EXPECT_EQ(t.live(), (std::vector<Handle>{1, 2, 3}));
}

TEST(HandleTable, ResolveChecksInDocumentedOrder) {
  HandleTable t;
  Mapping m;
  Grant g;
  ASSERT_EQ(t.reserve(), rcOk);
  const Handle hm = t.insert(ObjectKind::Mapping, &m);
  ASSERT_EQ(t.reserve(), rcOk);
  const Handle hg = t.insert(ObjectKind::Grant, &g);
  Object* out = nullptr;
  EXPECT_EQ(t.resolve(0, ObjectKind::Mapping, &out), rcInvalidArgument);
  EXPECT_EQ(t.resolve(INVALID_HANDLE, ObjectKind::Mapping, &out), rcInvalidArgument);
  EXPECT_EQ(t.resolve(77, ObjectKind::Mapping, &out), rcInvalidArgument);
  EXPECT_EQ(t.resolve(hm, ObjectKind::Buffer, &out), rcInvalidArgument);  // wrong type
  ASSERT_EQ(t.resolve(hm, ObjectKind::Mapping, &out), rcOk);
  EXPECT_EQ(out, &m);
  ASSERT_EQ(t.resolve(hg, ObjectKind::Buffer, &out, ObjectKind::Grant), rcOk);
  t.revoke(hg);
  // Revoked wins over wrong type: the revoked check comes before the type check.
  EXPECT_EQ(t.resolve(hg, ObjectKind::Buffer, &out), rcHandleRevoked);
  EXPECT_NE(t.find(hg), nullptr);
  t.erase(hg);
  EXPECT_EQ(t.resolve(hg, ObjectKind::Grant, &out), rcInvalidArgument);
}

TEST(HandleTable, ReserveIsTheFailpoint) {
  HandleTable t;
  failpoint_arm(1);
  EXPECT_EQ(t.reserve(), rcOutOfMemory);
  failpoint_disarm();
  EXPECT_EQ(t.size(), 0u);
}

TEST(IovaAllocator, LowestFitSkipsPageZeroAndAligns) {
  IovaAllocator a(std::uint64_t{1} << 39);
  std::uint64_t x = 0, y = 0, z = 0;
  ASSERT_EQ(a.allocate(0x2000, 0x1000, &x), rcOk);
  EXPECT_EQ(x, 0x1000u);  // never page 0
  ASSERT_EQ(a.allocate(0x200000, 0x200000, &y), rcOk);
  EXPECT_EQ(y, 0x200000u);  // 2 MiB aligned
  ASSERT_EQ(a.allocate(0x1000, 0x1000, &z), rcOk);
  EXPECT_EQ(z, 0x3000u);  // lowest gap
  a.release(x);
  ASSERT_EQ(a.allocate(0x1000, 0x1000, &x), rcOk);
  EXPECT_EQ(x, 0x1000u);  // reuse after release
}

TEST(IovaAllocator, AvoidsInterruptWindowAndLimit) {
  IovaAllocator a(std::uint64_t{1} << 32);
  std::uint64_t big = 0, next = 0;
  // Fill everything below the window.
  ASSERT_EQ(a.allocate(IovaAllocator::kInterruptWindowStart - 0x1000, 0x1000, &big), rcOk);
  EXPECT_EQ(big, 0x1000u);
  ASSERT_EQ(a.allocate(0x1000, 0x1000, &next), rcOk);
  EXPECT_EQ(next, IovaAllocator::kInterruptWindowEnd);
  std::uint64_t none = 0;
  EXPECT_EQ(a.allocate(std::uint64_t{1} << 31, 0x1000, &none), rcOutOfMemory);  // beyond limit
  failpoint_arm(1);
  EXPECT_EQ(a.allocate(0x1000, 0x1000, &none), rcOutOfMemory);
  failpoint_disarm();
  EXPECT_EQ(a.ranges().size(), 2u);
}

TEST(IovaAllocator, RangesNeverOverlap) {
  IovaAllocator a(std::uint64_t{1} << 39);
  std::uint64_t iova = 0;
  for (int i = 0; i < 200; ++i) {
    const std::uint64_t bytes = 0x1000ull * (1 + (i * 7) % 13);
    const std::uint64_t align = (i % 5 == 0) ? 0x200000 : 0x1000;
    ASSERT_EQ(a.allocate(bytes, align, &iova), rcOk);
    EXPECT_EQ(iova % align, 0u);
    if (i % 3 == 0) a.release(iova);
  }
  std::uint64_t prev_end = 0;
  for (const auto& [start, end] : a.ranges()) {
    EXPECT_GE(start, prev_end);
    EXPECT_GT(start, 0u);
    prev_end = end;
  }
}

}  // namespace
}  // namespace kniommu::kos
