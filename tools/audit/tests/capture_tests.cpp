// The snapshot writer on the built-in implementation: what the audit says a device reaches is
// exactly what the emulated hardware lets it reach, and the capture survives the file format.
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "analysis/analysis.h"
#include "capture/capture.h"
#include "capture/dma_api.h"
#include "capture/metadata.h"
#include "kniommu/iommu_api.h"
#include "render/render.h"
#include "snapshot/reader.h"
#include "snapshot/writer.h"

namespace kniommu::snapshot {
namespace {

class Capture : public ::testing::Test {
 protected:
  void SetUp() override {
    KnSimConfig config;
    KnSimDefaultConfig(&config);
    ASSERT_EQ(KnSimSystemCreate(&config, &system_), rcOk);
    ASSERT_GE(config.device_count, 2u);
    nic_ = config.devices[0];
    disk_ = config.devices[1];
    ASSERT_EQ(KnSimProcessCreate(system_, &pid_), rcOk);
    ASSERT_EQ(KnSimBindThread(system_, pid_), rcOk);
  }
  void TearDown() override {
    KnSimBindThread(system_, 0);
    KnSimSystemDestroy(system_);
  }

  KnSimSystem* system_ = nullptr;
  KnPid pid_ = 0;
  std::uint16_t nic_ = 0;
  std::uint16_t disk_ = 0;
};

TEST_F(Capture, AuditedReachIsExactlyTheGrantedBuffer) {
  ASSERT_EQ(KnIommuAttachDevice(nic_), rcOk);
  Handle rid = INVALID_HANDLE;
  Handle grant = INVALID_HANDLE;
  ASSERT_EQ(KnIoDmaCreate(0, 3 * 4096, DMA_DIR_BIDIR, &rid), rcOk);
  ASSERT_EQ(KnIoDmaBegin(rid, &grant), rcOk);

  Snapshot s;
  ASSERT_EQ(capture(system_, s), rcOk);
  const auto did = attached_did(s, nic_);
  ASSERT_TRUE(did.has_value());
  EXPECT_FALSE(attached_did(s, disk_).has_value());
  Buffer buffer;
  ASSERT_EQ(describe_buffer(pid_, rid, buffer), rcOk);
  s.processes = {{pid_, "test"}};
  s.domains = {{pid_, *did, DomainKind::kAutomatic}};
  s.buffers = {buffer};

  const auto read = read_snapshot(write_snapshot(s));
  ASSERT_TRUE(read.snapshot) << read.error.to_string();
  const auto report = audit::analyze(*read.snapshot);
  EXPECT_TRUE(report.violations.empty()) << audit::render_text(report);
  ASSERT_EQ(report.devices.size(), 1u);
  EXPECT_EQ(report.devices[0].bdf, nic_);
  std::vector<audit::Range> expected;
  for (const auto& r : buffer.ranges)
    expected.push_back({r.pa, r.pages, audit::kRead | audit::kWrite});
  EXPECT_EQ(report.devices[0].reach, audit::normalize(expected));

  // The hardware agrees: the device can write every page of the grant's IOVA range.
  DmaInfo* info = nullptr;
  ASSERT_EQ(KnIoDmaGetInfo(grant, &info), rcOk);
  for (std::size_t i = 0; i < info->count; ++i) {
    std::uint8_t byte = 0x5A;
    std::uint8_t fault = 0;
    const std::uint64_t iova = static_cast<std::uint64_t>(info->descriptors[i].frame) << 12;
    EXPECT_EQ(KnSimDeviceDma(system_, nic_, iova, &byte, 1, 1, &fault), rcOk);
  }
  std::free(info);
}

TEST_F(Capture, ForeignPagesShowUpAsViolations) {
  // The device is attached and reaches the buffer, but the metadata says the buffer belongs
  // to nobody: the audit must flag every reached page.
  ASSERT_EQ(KnIommuAttachDevice(nic_), rcOk);
  Handle rid = INVALID_HANDLE;
  Handle grant = INVALID_HANDLE;
  ASSERT_EQ(KnIoDmaCreate(0, 4096, DMA_DIR_FROM_DEVICE, &rid), rcOk);
  ASSERT_EQ(KnIoDmaBegin(rid, &grant), rcOk);
  Snapshot s;
  ASSERT_EQ(capture(system_, s), rcOk);
  s.processes = {{pid_, ""}};
  s.domains = {{pid_, *attached_did(s, nic_), DomainKind::kAutomatic}};
  const auto report = audit::analyze(s);
  ASSERT_EQ(report.violations.size(), 1u) << audit::render_text(report);
  EXPECT_EQ(report.violations[0].kind, audit::ViolationKind::kOutsideBuffers);
  EXPECT_EQ(audit::page_count(report.violations[0].ranges), 1u);
  EXPECT_EQ(report.violations[0].ranges[0].perms, audit::kWrite);
}

TEST_F(Capture, DetachedDeviceDisappears) {
  ASSERT_EQ(KnIommuAttachDevice(nic_), rcOk);
  ASSERT_EQ(KnIommuDetachDevice(nic_), rcOk);
  Snapshot s;
  ASSERT_EQ(capture(system_, s), rcOk);
  EXPECT_FALSE(attached_did(s, nic_).has_value());
  EXPECT_TRUE(audit::analyze(s).devices.empty());
}

TEST(CaptureArgs, NullSystemIsInvalid) {
  Snapshot s;
  EXPECT_EQ(capture(nullptr, s), rcInvalidArgument);
}

}  // namespace
}  // namespace kniommu::snapshot
