// What devices can reach, judged by the emulated remapping unit: granted buffers per direction,
// and faults with the right reason after close / detach / domain close / exit. Runs over several
// hardware generations (3/4/5 levels, CM=1, no superpages, tiny MAMV).
#include <cstring>
#include <string>

#include "kos/tests/sim_fixture.h"

namespace kniommu::kos::test {
namespace {

constexpr std::uint8_t kNotPresentContext = 0x2;
constexpr std::uint8_t kNoWrite = 0x5;
constexpr std::uint8_t kNoRead = 0x6;

struct Hw {
  std::string name;
  std::uint32_t sagaw, mgaw, sllps, mamv;
  int cm;
};

class DeviceAccess : public SimTest, public ::testing::WithParamInterface<Hw> {
 protected:
  KnSimConfig config() override {
    KnSimConfig c = SimTest::config();
    c.sagaw = GetParam().sagaw;
    c.mgaw = GetParam().mgaw;
    c.sllps = GetParam().sllps;
    c.mamv = GetParam().mamv;
    c.caching_mode = GetParam().cm;
    return c;
  }
  void expect_fault(DmaResult r, std::uint8_t reason) {
    EXPECT_EQ(r.rc, rcFail);
    EXPECT_EQ(r.fault, reason);
  }
  // kDev0 attached to the automatic domain, a one-page BIDIR buffer *b granted there as *g.
  void attach_and_grant_page(Handle* b, Handle* g) {
    ASSERT_EQ(KnIommuAttachDevice(kDev0), rcOk);
    *b = buffer(4096, DMA_DIR_BIDIR);
    ASSERT_EQ(KnIoDmaBegin(*b, g), rcOk);
  }
};

TEST_P(DeviceAccess, DirectionDecidesPermission) {
  ASSERT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  const Handle to = buffer(2 * kPage, DMA_DIR_TO_DEVICE);
  const Handle from = buffer(2 * kPage, DMA_DIR_FROM_DEVICE);
  const Handle both = buffer(2 * kPage, DMA_DIR_BIDIR);
  Handle g1 = 0, g2 = 0, g3 = 0;
  ASSERT_EQ(KnIoDmaBegin(to, &g1), rcOk);
  ASSERT_EQ(KnIoDmaBegin(from, &g2), rcOk);
  ASSERT_EQ(KnIoDmaBegin(both, &g3), rcOk);
  // TO_DEVICE: the device reads what the CPU wrote, and cannot write.
  Handle m = 0;
  void* va = nullptr;
  ASSERT_EQ(KnIoDmaMap(to, 4096, 4096, nullptr, VMM_FLAG_WRITE, &va, &m), rcOk);
  const std::uint64_t magic = 0x1122334455667788;
  ASSERT_EQ(KnSimVmWrite(sys_, pid_, reinterpret_cast<std::uint64_t>(va) + 16, &magic, 8), rcOk);
  ASSERT_EQ(dma_read(kDev0, iova_of(g1) + 4096 + 16).rc, rcOk);
  EXPECT_EQ(last_u64(), magic);
  expect_fault(dma_write_u64(kDev0, iova_of(g1), 1), kNoWrite);
  // FROM_DEVICE: the device writes, the CPU sees it; the device cannot read.
  ASSERT_EQ(dma_write_u64(kDev0, iova_of(g2) + 8, magic).rc, rcOk);
  ASSERT_EQ(KnIoDmaMap(from, 0, 4096, nullptr, VMM_FLAG_READ, &va, &m), rcOk);
  std::uint64_t seen = 0;
  ASSERT_EQ(KnSimVmRead(sys_, pid_, reinterpret_cast<std::uint64_t>(va) + 8, &seen, 8), rcOk);
  EXPECT_EQ(seen, magic);
  expect_fault(dma_read(kDev0, iova_of(g2)), kNoRead);
  // BIDIR both ways, across the page boundary in one request.
  std::vector<unsigned char> bytes(64, 0x5A);
  EXPECT_EQ(dma_write(kDev0, iova_of(g3) + 4096 - 32, bytes.data(), bytes.size()).rc, rcOk);
  EXPECT_EQ(dma_read(kDev0, iova_of(g3) + 4096 - 32, 64).rc, rcOk);
  EXPECT_EQ(last_read_, bytes);
  // Beyond the footprint: not mapped.
  expect_fault(dma_read(kDev0, iova_of(g3) + 2 * kPage), kNoRead);
  // A device attached nowhere faults on the context entry; so does one on another bus.
  expect_fault(dma_read(kDev1, iova_of(g3)), kNotPresentContext);
  expect_fault(dma_read(kDev2, iova_of(g3)), kNotPresentContext);
}

TEST_P(DeviceAccess, FaultingRequestTransfersNothing) {
  Handle b = 0, g = 0;
  ASSERT_NO_FATAL_FAILURE(attach_and_grant_page(&b, &g));
  std::vector<unsigned char> bytes(64, 0x77);
  // Starts in the grant, runs into the unmapped next page.
  expect_fault(dma_write(kDev0, iova_of(g) + 4096 - 32, bytes.data(), bytes.size()), kNoWrite);
  ASSERT_EQ(dma_read(kDev0, iova_of(g) + 4096 - 32, 32).rc, rcOk);
  EXPECT_EQ(last_read_, std::vector<unsigned char>(32, 0));
}

TEST_P(DeviceAccess, RevocationIsImmediate) {
  ASSERT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  const Handle b = buffer(8 * kPage, DMA_DIR_BIDIR, 1);
  Handle g = 0;
  ASSERT_EQ(KnIoDmaBegin(b, &g), rcOk);
  const std::uint64_t iova = iova_of(g);
  // Fill the IOTLB, then close the grant: the cached translation must be gone.
  for (int i = 0; i < 8; ++i) ASSERT_EQ(dma_read(kDev0, iova + i * kPage).rc, rcOk);
  ASSERT_EQ(KnHandleClose(g), rcOk);
  for (int i = 0; i < 8; ++i) expect_fault(dma_read(kDev0, iova + i * kPage), kNoRead);
  expect_fault(dma_write_u64(kDev0, iova, 1), kNoWrite);
  // Grant again (same buffer, the IOVA may be reused), then detach: context fault.
  ASSERT_EQ(KnIoDmaBegin(b, &g), rcOk);
  ASSERT_EQ(dma_read(kDev0, iova_of(g)).rc, rcOk);
  ASSERT_EQ(KnIommuDetachDevice(kDev0), rcOk);
  expect_fault(dma_read(kDev0, iova_of(g)), kNotPresentContext);
  // Re-attach: the grant is still there.
  ASSERT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  EXPECT_EQ(dma_read(kDev0, iova_of(g)).rc, rcOk);
}

TEST_P(DeviceAccess, BufferOutlivesItsHandleWhileGranted) {
  Handle b = 0, g = 0;
  ASSERT_NO_FATAL_FAILURE(attach_and_grant_page(&b, &g));
  const std::uint64_t iova = iova_of(g);
  const std::uint64_t frames = KnSimFramesInUse(sys_);
  ASSERT_EQ(KnHandleClose(b), rcOk);
  EXPECT_EQ(KnSimFramesInUse(sys_), frames);  // the grant holds the buffer
  ASSERT_EQ(dma_write_u64(kDev0, iova, 42).rc, rcOk);
  ASSERT_EQ(KnHandleClose(g), rcOk);
  EXPECT_LT(KnSimFramesInUse(sys_), frames);  // now freed, after the invalidation
  expect_fault(dma_read(kDev0, iova), kNoRead);
}

TEST_P(DeviceAccess, CreatedDomainsIsolateDevices) {
  Handle d1 = 0, d2 = 0, g1 = 0, g2 = 0;
  ASSERT_EQ(KnIommuCreateDomain(&d1), rcOk);
  ASSERT_EQ(KnIommuCreateDomain(&d2), rcOk);
  ASSERT_EQ(KnIommuAttachDeviceToDomain(kDev0, d1), rcOk);
  ASSERT_EQ(KnIommuAttachDeviceToDomain(kDev2, d2), rcOk);
  const Handle b1 = buffer(4096, DMA_DIR_BIDIR);
  const Handle b2 = buffer(4096, DMA_DIR_BIDIR);
  ASSERT_EQ(KnIoDmaBeginEx(b1, d1, &g1), rcOk);
  ASSERT_EQ(KnIoDmaBeginEx(b2, d2, &g2), rcOk);
  // Same lowest-fit IOVA in both domains, different buffers behind it.
  EXPECT_EQ(iova_of(g1), iova_of(g2));
  ASSERT_EQ(dma_write_u64(kDev0, iova_of(g1), 1).rc, rcOk);
  ASSERT_EQ(dma_write_u64(kDev2, iova_of(g2), 2).rc, rcOk);
  ASSERT_EQ(dma_read(kDev0, iova_of(g1)).rc, rcOk);
  EXPECT_EQ(last_u64(), 1u);
  // Closing domain 1 detaches kDev0 and unmaps; domain 2 is untouched.
  ASSERT_EQ(KnHandleClose(d1), rcOk);
  expect_fault(dma_read(kDev0, iova_of(g2)), kNotPresentContext);
  ASSERT_EQ(dma_read(kDev2, iova_of(g2)).rc, rcOk);
  EXPECT_EQ(last_u64(), 2u);
  // Domain IDs are reused (lowest free): a new domain gets d1's DID, and must see nothing stale.
  Handle d3 = 0;
  ASSERT_EQ(KnIommuCreateDomain(&d3), rcOk);
  ASSERT_EQ(KnIommuAttachDeviceToDomain(kDev0, d3), rcOk);
  expect_fault(dma_read(kDev0, iova_of(g2)), kNoRead);
}

TEST_P(DeviceAccess, ExitRevokesEverything) {
  ASSERT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  Handle d = 0, g = 0, gx = 0;
  ASSERT_EQ(KnIommuCreateDomain(&d), rcOk);
  ASSERT_EQ(KnIommuAttachDeviceToDomain(kDev1, d), rcOk);
  const Handle b = buffer(16 * kPage, DMA_DIR_BIDIR, 2);
  ASSERT_EQ(KnIoDmaBegin(b, &g), rcOk);
  ASSERT_EQ(KnIoDmaBeginEx(b, d, &gx), rcOk);
  const std::uint64_t iova = iova_of(g), iova_x = iova_of(gx);
  ASSERT_EQ(dma_read(kDev0, iova).rc, rcOk);
  ASSERT_EQ(dma_read(kDev1, iova_x).rc, rcOk);
  ASSERT_EQ(KnSimProcessExit(sys_, pid_), rcOk);
  expect_fault(dma_read(kDev0, iova), kNotPresentContext);
  expect_fault(dma_read(kDev1, iova_x), kNotPresentContext);
  // A new process gets the same DIDs and IOVAs; nothing of the old grants is reachable.
  bind(new_process());
  ASSERT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  ASSERT_EQ(KnIommuAttachDevice(kDev1), rcOk);
  expect_fault(dma_read(kDev0, iova), kNoRead);
  expect_fault(dma_read(kDev1, iova_x), kNoRead);
  EXPECT_LE(KnSimFramesInUse(sys_), baseline_frames_ + 2 + 1);  // context table + new auto table
}

TEST_P(DeviceAccess, SuperpageBuffersUseAlignedIovas) {
  ASSERT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  const Handle small = buffer(4096, DMA_DIR_BIDIR);
  const Handle big = buffer(2u << 21, DMA_DIR_BIDIR, 9);  // two 2 MiB blocks
  Handle gs = 0, gb = 0;
  ASSERT_EQ(KnIoDmaBegin(small, &gs), rcOk);
  ASSERT_EQ(KnIoDmaBegin(big, &gb), rcOk);
  const std::uint64_t iova = iova_of(gb);
  if ((GetParam().sllps & 1) != 0) {
    EXPECT_EQ(iova % (1u << 21), 0u);
  }
  EXPECT_NE(iova, 0u);
  ASSERT_EQ(dma_write_u64(kDev0, iova + (3u << 20), 9).rc, rcOk);  // inside the second block
  ASSERT_EQ(dma_read(kDev0, iova + (3u << 20)).rc, rcOk);
  EXPECT_EQ(last_u64(), 9u);
  ASSERT_EQ(KnHandleClose(gb), rcOk);
  expect_fault(dma_read(kDev0, iova + (3u << 20)), kNoRead);
  expect_fault(dma_read(kDev0, iova), kNoRead);
  EXPECT_EQ(dma_read(kDev0, iova_of(gs)).rc, rcOk);
}

TEST_P(DeviceAccess, CachesHoldNothingOfARevokedDomain) {
  Handle b = 0, g = 0;
  ASSERT_NO_FATAL_FAILURE(attach_and_grant_page(&b, &g));
  ASSERT_EQ(dma_read(kDev0, iova_of(g)).rc, rcOk);
  ASSERT_EQ(KnSimProcessExit(sys_, pid_), rcOk);
  std::vector<KnSimCacheEntry> entries(64);
  std::size_t count = 0;
  ASSERT_EQ(KnSimCacheSnapshot(sys_, entries.data(), entries.size(), &count), rcOk);
  for (std::size_t i = 0; i < std::min(count, entries.size()); ++i)
    EXPECT_NE(entries[i].kind, 1) << "IOTLB entry for DID " << entries[i].did << " survived exit";
}

TEST_P(DeviceAccess, FootprintIncludesTheLastBlocksTail) {
  ASSERT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  // 3 pages in blocks of 2: two blocks, footprint 4 pages (docs/semantics.md "Footprint").
  const Handle b = buffer(3 * kPage, DMA_DIR_BIDIR, 1);
  Handle g = 0;
  ASSERT_EQ(KnIoDmaBegin(b, &g), rcOk);
  EXPECT_EQ(dma_write_u64(kDev0, iova_of(g) + 3 * kPage + 8, 5).rc, rcOk);
  expect_fault(dma_read(kDev0, iova_of(g) + 4 * kPage), kNoRead);
}

TEST_P(DeviceAccess, BeyondAddressWidthFaults) {
  ASSERT_EQ(KnIommuAttachDevice(kDev0), rcOk);
  const unsigned width = GetParam().mgaw;  // every configuration here has MGAW = table width
  expect_fault(dma_read(kDev0, std::uint64_t{1} << width), 0x4);
  // The highest page below the limit is in range: not mapped, so a permission fault.
  expect_fault(dma_read(kDev0, (std::uint64_t{1} << width) - 4096), kNoRead);
}

INSTANTIATE_TEST_SUITE_P(Generations, DeviceAccess,
                         ::testing::Values(Hw{"L4", 0x4, 48, 0x3, 18, 0},
                                           Hw{"L3", 0x2, 39, 0x1, 18, 0},
                                           Hw{"L5", 0x8, 57, 0x3, 18, 0},
                                           Hw{"L4CachingMode", 0x4, 48, 0x3, 18, 1},
                                           Hw{"L3CachingModeNoSuperpages", 0x2, 39, 0x0, 18, 1},
                                           Hw{"L4TinyMamv", 0x4 | 0x8, 48, 0x1, 0, 0}),
                         [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace kniommu::kos::test
