// Shared helpers of the impl/kos tests: a simulated system with one bound process, and device DMA
// shorthands.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "kniommu/iommu_api.h"
#include "kniommu/sim.h"
#include "kos/dma_h.h"

namespace kniommu::kos::test {

inline constexpr std::size_t kPage = 4096;
inline constexpr std::uint16_t kDev0 = 0x0008;  // 00:01.0
inline constexpr std::uint16_t kDev1 = 0x0010;  // 00:02.0
inline constexpr std::uint16_t kDev2 = 0x0100;  // 01:00.0
inline constexpr std::uint16_t kUnknownDev = 0x0F00;

struct DmaResult {
  Retcode rc;
  std::uint8_t fault;
};

class SimTest : public ::testing::Test {
 protected:
  void SetUp() override { start(config()); }
  void TearDown() override { stop(); }

  virtual KnSimConfig config() {
    KnSimConfig c;
    KnSimDefaultConfig(&c);
    return c;
  }

  void start(const KnSimConfig& c) {
    ASSERT_EQ(KnSimSystemCreate(&c, &sys_), rcOk);
    baseline_frames_ = KnSimFramesInUse(sys_);
    ASSERT_EQ(KnSimProcessCreate(sys_, &pid_), rcOk);
    ASSERT_EQ(KnSimBindThread(sys_, pid_), rcOk);
  }
  // `expect_safe` = false only for runs with a mutation switch on (they may free reachable frames).
  void stop(bool expect_safe = true) {
    if (sys_ == nullptr) return;
    if (expect_safe) {
      EXPECT_EQ(KnSimUseAfterFreeCount(sys_), 0u);
    }
    KnSimBindThread(nullptr, 0);
    KnSimSystemDestroy(sys_);
    sys_ = nullptr;
  }

  KnPid new_process() {
    KnPid p = 0;
    EXPECT_EQ(KnSimProcessCreate(sys_, &p), rcOk);
    return p;
  }
  void bind(KnPid p) { ASSERT_EQ(KnSimBindThread(sys_, p), rcOk); }

  Handle buffer(std::size_t size, DmaAttr flags, std::uint32_t order = 0) {
    Handle h = INVALID_HANDLE;
    EXPECT_EQ(KnIoDmaCreate(order, size, flags, &h), rcOk);
    return h;
  }
  // The first IOVA of a grant (or of the buffer's automatic-domain grant).
  std::uint64_t iova_of(Handle h) {
    DmaInfo* info = nullptr;
    EXPECT_EQ(KnIoDmaGetInfo(h, &info), rcOk);
    if (info == nullptr) return 0;
    const std::uint64_t iova = info->count > 0 ? info->descriptors[0].frame << 12 : 0;
    free(info);
    return iova;
  }
  std::uint64_t phys_of(Handle h) {
    DmaInfo* info = nullptr;
    EXPECT_EQ(KnIoDmaGetPhysInfo(h, &info), rcOk);
    if (info == nullptr) return 0;
    const std::uint64_t pa = info->descriptors[0].frame << 12;
    free(info);
    return pa;
  }

  DmaResult dma_read(std::uint16_t bdf, std::uint64_t iova, std::size_t len = 8) {
    std::vector<unsigned char> buf(len);
    DmaResult r{rcOk, 0};
    r.rc = KnSimDeviceDma(sys_, bdf, iova, buf.data(), len, 0, &r.fault);
    last_read_ = buf;
    return r;
  }
  DmaResult dma_write(std::uint16_t bdf, std::uint64_t iova, const void* data, std::size_t len) {
    DmaResult r{rcOk, 0};
    r.rc = KnSimDeviceDma(sys_, bdf, iova, const_cast<void*>(data), len, 1, &r.fault);
    return r;
  }
  DmaResult dma_write_u64(std::uint16_t bdf, std::uint64_t iova, std::uint64_t v) {
    return dma_write(bdf, iova, &v, sizeof v);
  }
  std::uint64_t last_u64() const {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8 && i < last_read_.size(); ++i)
      v |= std::uint64_t{last_read_[i]} << (8 * i);
    return v;
  }

  KnSimSystem* sys_ = nullptr;
  KnPid pid_ = 0;
  std::uint64_t baseline_frames_ = 0;
  std::vector<unsigned char> last_read_;
};

}  // namespace kniommu::kos::test
