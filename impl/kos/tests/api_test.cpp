// Success paths and every documented error of each call (docs/semantics.md), through the C API.
#include <cstring>

#include "kos/tests/sim_fixture.h"

namespace kniommu::kos::test {
namespace {

using Api = SimTest;

TEST_F(Api, UnboundThreadHasNoCaller) {
  KnSimBindThread(nullptr, 0);
  EXPECT_EQ(KnIommuAttachDevice(kDev0), rcInvalidArgument);
  Handle h = 0;
  EXPECT_EQ(KnIommuCreateDomain(&h), rcInvalidArgument);
}

TEST_F(Api, AttachDeviceChecksInOrder) {
  EXPECT_EQ(KnIommuAttachDevice(kUnknownDev), rcDeviceNotFound);
  EXPECT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  EXPECT_EQ(KnIommuAttachDevice(kDev0), rcAlreadyExists);
  EXPECT_EQ(KnIommuAttachDevice(kDev1), rcOk);  // same automatic domain
  const KnPid other = new_process();
  bind(other);
  EXPECT_EQ(KnIommuAttachDevice(kDev0), rcBusy);  // another process's device
  EXPECT_EQ(KnIommuDetachDevice(kDev0), rcResourceNotFound);
  Handle d = 0;
  ASSERT_EQ(KnIommuCreateDomain(&d), rcOk);
  ASSERT_EQ(KnIommuAttachDeviceToDomain(kDev2, d), rcOk);
  EXPECT_EQ(KnIommuAttachDevice(kDev2), rcBusy);  // own created domain
}

TEST_F(Api, DetachDevice) {
  EXPECT_EQ(KnIommuDetachDevice(kUnknownDev), rcDeviceNotFound);
  EXPECT_EQ(KnIommuDetachDevice(kDev0), rcResourceNotFound);  // no automatic domain yet
  ASSERT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  EXPECT_EQ(KnIommuDetachDevice(kDev1), rcResourceNotFound);  // not attached
  EXPECT_EQ(KnIommuDetachDevice(kDev0), rcOk);
  EXPECT_EQ(KnIommuDetachDevice(kDev0), rcResourceNotFound);
  // The automatic domain stays: Begin still finds it.
  const Handle b = buffer(4096, DMA_DIR_BIDIR);
  Handle g = 0;
  EXPECT_EQ(KnIoDmaBegin(b, &g), rcOk);
}

TEST_F(Api, CreatedDomainCalls) {
  EXPECT_EQ(KnIommuCreateDomain(nullptr), rcInvalidArgument);
  Handle d = 0;
  ASSERT_EQ(KnIommuCreateDomain(&d), rcOk);
  EXPECT_EQ(d, 1u);
  const Handle b = buffer(4096, DMA_DIR_BIDIR);
  EXPECT_EQ(KnIommuAttachDeviceToDomain(kDev0, b), rcInvalidArgument);   // wrong type
  EXPECT_EQ(KnIommuAttachDeviceToDomain(kDev0, 99), rcInvalidArgument);  // never issued
  EXPECT_EQ(KnIommuAttachDeviceToDomain(kDev0, INVALID_HANDLE), rcInvalidArgument);
  EXPECT_EQ(KnIommuAttachDeviceToDomain(kUnknownDev, d), rcDeviceNotFound);
  EXPECT_EQ(KnIommuAttachDeviceToDomain(kDev0, d), rcOk);
  EXPECT_EQ(KnIommuAttachDeviceToDomain(kDev0, d), rcAlreadyExists);
  Handle d2 = 0;
  ASSERT_EQ(KnIommuCreateDomain(&d2), rcOk);
  EXPECT_EQ(KnIommuAttachDeviceToDomain(kDev0, d2), rcBusy);
  EXPECT_EQ(KnIommuDetachDeviceFromDomain(kDev0, d2), rcResourceNotFound);
  EXPECT_EQ(KnIommuDetachDeviceFromDomain(kUnknownDev, d), rcDeviceNotFound);
  EXPECT_EQ(KnIommuDetachDeviceFromDomain(kDev0, b), rcInvalidArgument);
  EXPECT_EQ(KnIommuDetachDeviceFromDomain(kDev0, d), rcOk);
  EXPECT_EQ(KnIommuAttachDeviceToDomain(kDev0, d2), rcOk);
  EXPECT_EQ(KnIommuDetachDevice(kDev0), rcResourceNotFound);  // not the automatic domain
  // A foreign handle value is invalid in another process.
  const KnPid other = new_process();
  bind(other);
  EXPECT_EQ(KnIommuAttachDeviceToDomain(kDev1, d), rcInvalidArgument);
}

TEST_F(Api, BufferCreateValidation) {
  Handle h = 0;
  EXPECT_EQ(KnIoDmaCreate(0, 4096, DMA_DIR_BIDIR, nullptr), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaCreate(0, 0, DMA_DIR_BIDIR, &h), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaCreate(0, 100, DMA_DIR_BIDIR, &h), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaCreate(DMA_ORDER_MAX + 1, 4096, DMA_DIR_BIDIR, &h), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaCreate(0, 4096, DMA_ATTR_WRITE_COMBINE, &h), rcInvalidArgument);  // no direction
  EXPECT_EQ(KnIoDmaCreate(0, 4096, DMA_DIR_BIDIR | 0x100, &h), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaCreate(0, (DMA_SIZE_MAX + 4096), DMA_DIR_BIDIR, &h), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaCreate(0, 4097ull * kPage, DMA_DIR_BIDIR, &h),
            rcInvalidArgument);  // > 4096 blocks
  EXPECT_EQ(KnIoDmaCreate(0, 4096ull * kPage, DMA_DIR_BIDIR | DMA_ATTR_CACHE_DISABLE, &h), rcOk);
  EXPECT_EQ(KnIoDmaCreateContinuous(0, DMA_DIR_BIDIR, &h), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaCreateContinuous(3 * kPage, DMA_DIR_BIDIR, nullptr), rcInvalidArgument);
  ASSERT_EQ(KnIoDmaCreateContinuous(3 * kPage, DMA_DIR_TO_DEVICE, &h), rcOk);
  DmaInfo* info = nullptr;
  ASSERT_EQ(KnIoDmaGetPhysInfo(h, &info), rcOk);
  EXPECT_EQ(info->count, 1u);
  EXPECT_EQ(info->orderMin, 2u);  // smallest order covering 3 pages
  EXPECT_EQ(info->descriptors[0].order, 2u);
  EXPECT_EQ(info->size, 3u * kPage);
  EXPECT_EQ(info->flags, DMA_DIR_TO_DEVICE);
  EXPECT_EQ((info->descriptors[0].frame << 12) % (4 * kPage), 0u);  // naturally aligned block
  free(info);
}

TEST_F(Api, Dma32BuffersLiveBelow4GiB) {
  const Handle h = buffer(64 * kPage, DMA_DIR_BIDIR | DMA_ZONE_DMA32, 2);
  DmaInfo* info = nullptr;
  ASSERT_EQ(KnIoDmaGetPhysInfo(h, &info), rcOk);
  ASSERT_EQ(info->count, 16u);
  for (std::size_t i = 0; i < info->count; ++i)
    EXPECT_LT(info->descriptors[i].frame << 12, 1ull << 32);
  free(info);
}

TEST_F(Api, MapValidationAndCpuAccess) {
  const Handle b = buffer(2 * kPage, DMA_DIR_BIDIR);
  void* addr = nullptr;
  Handle m = 0;
  int dummy = 0;
  EXPECT_EQ(KnIoDmaMap(b, 0, 4096, &dummy, VMM_FLAG_READ, &addr, &m), rcInvalidArgument);  // hint
  EXPECT_EQ(KnIoDmaMap(b, 0, 4096, nullptr, VMM_FLAG_READ, nullptr, &m), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaMap(b, 1, 4096, nullptr, VMM_FLAG_READ, &addr, &m), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaMap(b, 0, 0, nullptr, VMM_FLAG_READ, &addr, &m), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaMap(b, 4096, 2 * kPage, nullptr, VMM_FLAG_READ, &addr, &m), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaMap(b, 0, 4096, nullptr, 4, &addr, &m), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaMap(77, 0, 4096, nullptr, VMM_FLAG_READ, &addr, &m), rcInvalidArgument);
  ASSERT_EQ(KnIoDmaMap(b, 0, 2 * kPage, nullptr, VMM_FLAG_READ | VMM_FLAG_WRITE, &addr, &m), rcOk);
  const auto va = reinterpret_cast<std::uint64_t>(addr);
  const char msg[] = "across a page boundary";
  ASSERT_EQ(KnSimVmWrite(sys_, pid_, va + 4090, msg, sizeof msg), rcOk);
  char back[sizeof msg] = {};
  ASSERT_EQ(KnSimVmRead(sys_, pid_, va + 4090, back, sizeof back), rcOk);
  EXPECT_STREQ(back, msg);
  // Frames are zeroed and the bytes landed in the buffer's physical pages.
  char phys[6] = {};
  ASSERT_EQ(KnSimPhysRead(sys_, phys_of(b) + 4090, phys, 6), rcOk);
  EXPECT_EQ(std::memcmp(phys, msg, 6), 0);
  EXPECT_EQ(KnSimVmRead(sys_, pid_, va + 2 * kPage, back, 1), rcInvalidArgument);  // past the end
  Handle ro = 0;
  ASSERT_EQ(KnIoDmaMap(b, 4096, 4096, nullptr, VMM_FLAG_READ, &addr, &ro), rcOk);
  EXPECT_EQ(KnSimVmWrite(sys_, pid_, reinterpret_cast<std::uint64_t>(addr), msg, 1),
            rcInvalidArgument);  // read-only mapping
  ASSERT_EQ(KnSimVmRead(sys_, pid_, reinterpret_cast<std::uint64_t>(addr), back, 6), rcOk);
  EXPECT_EQ(std::memcmp(back, msg + 6, 6), 0);  // same bytes through the second mapping
  EXPECT_EQ(KnHandleClose(m), rcOk);
  EXPECT_EQ(KnSimVmRead(sys_, pid_, va, back, 1), rcInvalidArgument);  // unmapped
}

TEST_F(Api, BeginChecksInOrder) {
  const Handle b = buffer(4096, DMA_DIR_BIDIR);
  Handle g = 0;
  EXPECT_EQ(KnIoDmaBegin(b, nullptr), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaBegin(99, &g), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaBegin(b, &g), rcResourceNotFound);  // no automatic domain yet
  ASSERT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  ASSERT_EQ(KnIoDmaBegin(b, &g), rcOk);
  Handle g2 = 0;
  EXPECT_EQ(KnIoDmaBegin(b, &g2), rcAlreadyExists);
  EXPECT_EQ(KnIoDmaBegin(g, &g2), rcInvalidArgument);  // a grant is not a buffer
  Handle d = 0;
  ASSERT_EQ(KnIommuCreateDomain(&d), rcOk);
  EXPECT_EQ(KnIoDmaBeginEx(b, d, nullptr), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaBeginEx(99, d, &g2), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaBeginEx(b, b, &g2), rcInvalidArgument);  // not a domain
  ASSERT_EQ(KnIoDmaBeginEx(b, d, &g2), rcOk);               // second domain: second grant
  Handle g3 = 0;
  EXPECT_EQ(KnIoDmaBeginEx(b, d, &g3), rcAlreadyExists);
  EXPECT_EQ(KnHandleClose(g), rcOk);
  EXPECT_EQ(KnIoDmaBegin(b, &g), rcOk);  // after close the buffer can be granted again
}

TEST_F(Api, GetInfoViews) {
  const Handle b = buffer(8 * kPage, DMA_DIR_BIDIR, 1);
  DmaInfo* info = nullptr;
  EXPECT_EQ(KnIoDmaGetInfo(b, nullptr), rcInvalidArgument);
  EXPECT_EQ(KnIoDmaGetInfo(55, &info), rcInvalidArgument);
  ASSERT_EQ(KnIoDmaGetInfo(b, &info), rcOk);
  EXPECT_EQ(info->count, 0u);  // not available to any device yet
  EXPECT_EQ(info->orderMin, 1u);
  free(info);
  ASSERT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  Handle g = 0;
  ASSERT_EQ(KnIoDmaBegin(b, &g), rcOk);
  ASSERT_EQ(KnIoDmaGetInfo(g, &info), rcOk);
  ASSERT_EQ(info->count, 4u);
  const std::uint64_t first = info->descriptors[0].frame << 12;
  EXPECT_NE(first, 0u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(info->descriptors[i].order, 1u);
    EXPECT_EQ(info->descriptors[i].frame << 12, first + i * 2 * kPage);  // contiguous IOVA range
  }
  free(info);
  EXPECT_EQ(iova_of(b), first);  // the buffer handle shows its automatic-domain grant
  Handle d = 0, gx = 0;
  ASSERT_EQ(KnIommuCreateDomain(&d), rcOk);
  ASSERT_EQ(KnIoDmaBeginEx(b, d, &gx), rcOk);
  ASSERT_EQ(KnIoDmaGetPhysInfo(gx, &info), rcOk);
  EXPECT_EQ(info->count, 4u);
  free(info);
  Handle m = 0;
  void* addr = nullptr;
  ASSERT_EQ(KnIoDmaMap(b, 0, 4096, nullptr, VMM_FLAG_READ, &addr, &m), rcOk);
  EXPECT_EQ(KnIoDmaGetInfo(m, &info), rcInvalidArgument);  // a mapping has no DMA view
}

TEST_F(Api, HandleValuesAndClose) {
  EXPECT_EQ(KnHandleClose(1), rcInvalidArgument);
  EXPECT_EQ(KnIoClose(INVALID_HANDLE), rcInvalidArgument);
  const Handle a = buffer(4096, DMA_DIR_BIDIR);
  const Handle b = buffer(4096, DMA_DIR_BIDIR);
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 2u);
  EXPECT_EQ(KnIoClose(a), rcOk);
  EXPECT_EQ(KnHandleClose(a), rcInvalidArgument);
  EXPECT_EQ(buffer(4096, DMA_DIR_BIDIR), 1u);  // smallest free value
}

TEST_F(Api, ClosingDomainRevokesItsGrants) {
  Handle d = 0, g = 0;
  ASSERT_EQ(KnIommuCreateDomain(&d), rcOk);
  const Handle b = buffer(4096, DMA_DIR_BIDIR);
  ASSERT_EQ(KnIoDmaBeginEx(b, d, &g), rcOk);
  ASSERT_EQ(KnIommuAttachDeviceToDomain(kDev0, d), rcOk);
  EXPECT_EQ(KnHandleClose(d), rcOk);
  DmaInfo* info = nullptr;
  EXPECT_EQ(KnIoDmaGetInfo(g, &info), rcHandleRevoked);
  EXPECT_EQ(KnIoDmaBegin(g, &d), rcHandleRevoked);  // revoked before wrong type
  EXPECT_EQ(KnHandleClose(g), rcOk);                // closing a revoked handle frees the slot
  EXPECT_EQ(KnHandleClose(g), rcInvalidArgument);
  // The device was detached: it can be attached elsewhere.
  EXPECT_EQ(KnIommuAttachDevice(kDev0), rcOk);
}

TEST_F(Api, ExitReleasesEverything) {
  ASSERT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  Handle d = 0, g = 0, g2 = 0, m = 0;
  ASSERT_EQ(KnIommuCreateDomain(&d), rcOk);
  ASSERT_EQ(KnIommuAttachDeviceToDomain(kDev1, d), rcOk);
  const Handle b = buffer(1 << 21, DMA_DIR_BIDIR, 9);
  ASSERT_EQ(KnIoDmaBegin(b, &g), rcOk);
  ASSERT_EQ(KnIoDmaBeginEx(b, d, &g2), rcOk);
  void* addr = nullptr;
  ASSERT_EQ(KnIoDmaMap(b, 0, 4096, nullptr, VMM_FLAG_READ, &addr, &m), rcOk);
  EXPECT_GT(KnSimFramesInUse(sys_), baseline_frames_ + 512);
  ASSERT_EQ(KnSimProcessExit(sys_, pid_), rcOk);
  EXPECT_EQ(KnSimProcessExit(sys_, pid_), rcInvalidArgument);
  // Buffer frames and page-table frames are back; context tables of the buses stay allocated.
  EXPECT_LE(KnSimFramesInUse(sys_), baseline_frames_ + 1);
  EXPECT_EQ(KnIommuAttachDevice(kDev0), rcInvalidArgument);  // the bound pid is gone
  bind(new_process());
  EXPECT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  EXPECT_EQ(KnIommuAttachDevice(kDev1), rcOk);
}

class DisabledApi : public SimTest {
 protected:
  KnSimConfig config() override {
    KnSimConfig c = SimTest::config();
    c.iommu_enabled = 0;
    return c;
  }
};

TEST_F(DisabledApi, CallsSucceedAndIovaIsPhysical) {
  EXPECT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  EXPECT_EQ(KnIommuAttachDevice(kDev0), rcOk);  // no effect, no AlreadyExists
  EXPECT_EQ(KnIommuAttachDevice(kUnknownDev), rcOk);
  EXPECT_EQ(KnIommuDetachDevice(kDev1), rcOk);
  Handle d = 0;
  ASSERT_EQ(KnIommuCreateDomain(&d), rcOk);
  EXPECT_EQ(KnIommuAttachDeviceToDomain(kDev0, d), rcOk);
  EXPECT_EQ(KnIommuAttachDeviceToDomain(kDev0, 77), rcInvalidArgument);  // handle checked first
  EXPECT_EQ(KnIommuDetachDeviceFromDomain(kDev0, d), rcOk);
  const Handle b = buffer(4 * kPage, DMA_DIR_TO_DEVICE, 1);
  EXPECT_EQ(iova_of(b), phys_of(b));  // buffer handle: physical view, count = blocks
  Handle g = 0, g2 = 0, gx = 0;
  ASSERT_EQ(KnIoDmaBegin(b, &g), rcOk);
  EXPECT_EQ(KnIoDmaBegin(b, &g2), rcAlreadyExists);
  ASSERT_EQ(KnIoDmaBeginEx(b, d, &gx), rcOk);
  EXPECT_EQ(iova_of(g), phys_of(b));
  EXPECT_EQ(iova_of(gx), phys_of(b));
  // Every device reaches all physical memory, in both directions.
  EXPECT_EQ(dma_write_u64(kDev2, phys_of(b), 0xABCD).rc, rcOk);
  EXPECT_EQ(dma_read(kDev1, phys_of(b)).rc, rcOk);
  EXPECT_EQ(last_u64(), 0xABCDu);
  EXPECT_EQ(dma_read(kUnknownDev, phys_of(b)).rc, rcDeviceNotFound);
  EXPECT_EQ(KnSimReadReg64(sys_, 0x8), 0u);  // no remapping unit
}

}  // namespace
}  // namespace kniommu::kos::test
