// Unit tests of the reference model: every Retcode of every call in docs/semantics.md, in the
// documented check order, plus can_access and check_invariants.
#include <gtest/gtest.h>

#include <algorithm>

#include "model/model.h"

namespace kniommu::model {
namespace {

constexpr Bdf kDev0 = 0x0008;
constexpr Bdf kDev1 = 0x0010;
constexpr Bdf kUnknown = 0x0300;
constexpr uint64_t kPage = kPageSize;
constexpr uint32_t kBidir = 0x3;
constexpr uint32_t kToDevice = 0x1;
constexpr uint32_t kFromDevice = 0x2;

Config config(bool enabled = true) {
  Config c;
  c.iommu_enabled = enabled;
  c.devices = {kDev0, kDev1};
  c.address_width = 39;
  c.max_domains = 3;
  return c;
}

// A state with processes 1 and 2; `expect_unchanged` checks that a failing call changed nothing.
class ModelTest : public ::testing::Test {
 protected:
  void SetUp() override { start(true); }
  void start(bool enabled) {
    s = initial_state(config(enabled));
    ASSERT_EQ(process_create(s).pid, 1u);
    ASSERT_EQ(process_create(s).pid, 2u);
  }
  template <class F>
  Result expect_unchanged(F call) {
    const State before = s;
    const Result r = call();
    EXPECT_NE(r.rc, rcOk);
    EXPECT_EQ(s, before) << "a failing call changed the state";
    EXPECT_EQ(r.handle, kInvalidHandle);
    return r;
  }
  Handle ok_handle(Result r) {
    EXPECT_EQ(r.rc, rcOk) << retcode_name(r.rc);
    return r.handle;
  }
  Handle buffer(Pid pid, uint64_t pages = 2, uint32_t flags = kBidir) {
    return ok_handle(dma_create(s, pid, 0, pages * kPage, flags));
  }
  void expect_invariants() { EXPECT_EQ(check_invariants(s), std::vector<std::string>{}); }
  State s;
};

// ---- Handles and processes -----------------------------------------------------------------

TEST_F(ModelTest, PidsAreHandedOutInCreationOrder) {
  EXPECT_EQ(process_create(s).pid, 3u);
  EXPECT_TRUE(process_alive(s, 3));
  EXPECT_FALSE(process_alive(s, 4));
}

TEST_F(ModelTest, HandlesAreTheSmallestFreeValue) {
  EXPECT_EQ(buffer(1), 1u);
  EXPECT_EQ(buffer(1), 2u);
  EXPECT_EQ(buffer(1), 3u);
  EXPECT_EQ(handle_close(s, 1, 2).rc, rcOk);
  EXPECT_EQ(buffer(1), 2u);
  EXPECT_EQ(buffer(2), 1u) << "handle tables are per process";
  expect_invariants();
}

TEST_F(ModelTest, CallsOfDeadOrUnknownProcessesAreInvalid) {
  EXPECT_EQ(process_exit(s, 1).rc, rcOk);
  EXPECT_EQ(expect_unchanged([&] { return process_exit(s, 1); }).rc, rcInvalidArgument);
  EXPECT_EQ(expect_unchanged([&] { return process_exit(s, 9); }).rc, rcInvalidArgument);
  EXPECT_EQ(expect_unchanged([&] { return attach_device(s, 1, kDev0); }).rc, rcInvalidArgument);
  EXPECT_EQ(expect_unchanged([&] { return create_domain(s, 9); }).rc, rcInvalidArgument);
  EXPECT_EQ(expect_unchanged([&] { return dma_create(s, 1, 0, kPage, kBidir); }).rc,
            rcInvalidArgument);
  EXPECT_EQ(dma_get_info(s, 1, 1).rc, rcInvalidArgument);
}

TEST_F(ModelTest, HandleCloseOfInvalidValues) {
  const Handle b = buffer(1);
  EXPECT_EQ(expect_unchanged([&] { return handle_close(s, 1, 7); }).rc, rcInvalidArgument);
  EXPECT_EQ(expect_unchanged([&] { return handle_close(s, 1, kInvalidHandle); }).rc,
            rcInvalidArgument);
  EXPECT_EQ(expect_unchanged([&] { return handle_close(s, 2, b); }).rc, rcInvalidArgument)
      << "a foreign handle value";
  EXPECT_EQ(handle_close(s, 1, b).rc, rcOk);
  EXPECT_EQ(expect_unchanged([&] { return handle_close(s, 1, b); }).rc, rcInvalidArgument)
      << "closed twice";
  EXPECT_TRUE(s.buffers.empty());
}

// ---- KnIommuAttachDevice / KnIommuDetachDevice ---------------------------------------------

TEST_F(ModelTest, AttachDeviceCreatesTheAutomaticDomainOnce) {
  EXPECT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
  ASSERT_TRUE(s.processes.at(1).auto_domain);
  const DomainSerial d = *s.processes.at(1).auto_domain;
  EXPECT_TRUE(s.domains.at(d).automatic);
  EXPECT_EQ(s.domains.at(d).owner, 1u);
  EXPECT_EQ(attach_device(s, 1, kDev1).rc, rcOk);
  EXPECT_EQ(s.processes.at(1).auto_domain, d);
  EXPECT_EQ(attachment(s, kDev1), d);
  EXPECT_EQ(live_domain_count(s), 1u);
  expect_invariants();
}

TEST_F(ModelTest, AttachDeviceErrorsInOrder) {
  EXPECT_EQ(expect_unchanged([&] { return attach_device(s, 1, kUnknown); }).rc, rcDeviceNotFound);
  ASSERT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
  EXPECT_EQ(expect_unchanged([&] { return attach_device(s, 1, kDev0); }).rc, rcAlreadyExists);
  EXPECT_EQ(expect_unchanged([&] { return attach_device(s, 2, kDev0); }).rc, rcBusy)
      << "attached to another process's automatic domain";
  const Handle d = ok_handle(create_domain(s, 2));
  ASSERT_EQ(attach_device_to_domain(s, 2, kDev1, d).rc, rcOk);
  EXPECT_EQ(expect_unchanged([&] { return attach_device(s, 2, kDev1); }).rc, rcBusy)
      << "attached to a created domain of the caller";
  // Out of memory comes after the argument checks.
  EXPECT_EQ(expect_unchanged([&] { return attach_device(s, 1, kDev0, true); }).rc, rcAlreadyExists);
}

TEST_F(ModelTest, AttachDeviceOutOfMemoryAndDidExhaustion) {
  EXPECT_EQ(expect_unchanged([&] { return attach_device(s, 1, kDev0, true); }).rc, rcOutOfMemory);
  ok_handle(create_domain(s, 1));
  ok_handle(create_domain(s, 1));
  ok_handle(create_domain(s, 2));  // 3 of 3 DIDs in use
  EXPECT_EQ(expect_unchanged([&] { return attach_device(s, 1, kDev0); }).rc, rcOutOfMemory);
  EXPECT_EQ(handle_close(s, 2, 1).rc, rcOk);  // frees a DID
  EXPECT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
}

TEST_F(ModelTest, IommuDisabledAttachDetachSucceedWithoutEffect) {
  start(false);
  EXPECT_EQ(attach_device(s, 1, kUnknown).rc, rcOk);
  EXPECT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
  EXPECT_EQ(detach_device(s, 1, kDev1).rc, rcOk);
  EXPECT_FALSE(s.processes.at(1).auto_domain);
  EXPECT_FALSE(attachment(s, kDev0));
  const Handle d = ok_handle(create_domain(s, 1));
  EXPECT_EQ(attach_device_to_domain(s, 1, kDev0, d).rc, rcOk);
  EXPECT_EQ(detach_device_from_domain(s, 1, kDev0, d).rc, rcOk);
  EXPECT_FALSE(attachment(s, kDev0));
  EXPECT_EQ(attach_device_to_domain(s, 1, kDev0, 9).rc, rcInvalidArgument)
      << "handle checks come before the IOMMU-disabled shortcut";
  expect_invariants();
}

TEST_F(ModelTest, DetachDeviceErrors) {
  EXPECT_EQ(expect_unchanged([&] { return detach_device(s, 1, kUnknown); }).rc, rcDeviceNotFound);
  EXPECT_EQ(expect_unchanged([&] { return detach_device(s, 1, kDev0); }).rc, rcResourceNotFound)
      << "no automatic domain";
  ASSERT_EQ(attach_device(s, 2, kDev0).rc, rcOk);
  ASSERT_EQ(attach_device(s, 1, kDev1).rc, rcOk);
  EXPECT_EQ(expect_unchanged([&] { return detach_device(s, 1, kDev0); }).rc, rcResourceNotFound)
      << "attached to another process's domain";
  ASSERT_EQ(detach_device(s, 1, kDev1).rc, rcOk);
  EXPECT_EQ(expect_unchanged([&] { return detach_device(s, 1, kDev1); }).rc, rcResourceNotFound)
      << "not attached";
  EXPECT_TRUE(s.processes.at(1).auto_domain) << "the automatic domain lives until exit";
  expect_invariants();
}

// ---- Created domains -----------------------------------------------------------------------

TEST_F(ModelTest, CreateDomain) {
  const Handle d = ok_handle(create_domain(s, 1));
  const HandleEntry* e = lookup_handle(s, 1, d);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->kind, Kind::Domain);
  EXPECT_FALSE(s.domains.at(e->object).automatic);
  EXPECT_EQ(expect_unchanged([&] { return create_domain(s, 1, true); }).rc, rcOutOfMemory);
  ok_handle(create_domain(s, 2));
  ok_handle(create_domain(s, 2));
  EXPECT_EQ(expect_unchanged([&] { return create_domain(s, 1); }).rc, rcOutOfMemory)
      << "all DIDs in use";
  expect_invariants();
}

TEST_F(ModelTest, AttachDeviceToDomainErrorsInOrder) {
  const Handle d = ok_handle(create_domain(s, 1));
  const Handle b = buffer(1);
  EXPECT_EQ(expect_unchanged([&] { return attach_device_to_domain(s, 1, kUnknown, 9); }).rc,
            rcInvalidArgument)
      << "never-issued handle, before the BDF check";
  EXPECT_EQ(expect_unchanged([&] { return attach_device_to_domain(s, 2, kDev0, d); }).rc,
            rcInvalidArgument)
      << "foreign handle";
  EXPECT_EQ(expect_unchanged([&] { return attach_device_to_domain(s, 1, kDev0, b); }).rc,
            rcInvalidArgument)
      << "wrong type";
  EXPECT_EQ(expect_unchanged([&] { return attach_device_to_domain(s, 1, kUnknown, d); }).rc,
            rcDeviceNotFound);
  ASSERT_EQ(attach_device_to_domain(s, 1, kDev0, d).rc, rcOk);
  EXPECT_EQ(expect_unchanged([&] { return attach_device_to_domain(s, 1, kDev0, d); }).rc,
            rcAlreadyExists);
  ASSERT_EQ(attach_device(s, 2, kDev1).rc, rcOk);
  EXPECT_EQ(expect_unchanged([&] { return attach_device_to_domain(s, 1, kDev1, d); }).rc, rcBusy);
  ASSERT_EQ(detach_device(s, 2, kDev1).rc, rcOk);
  EXPECT_EQ(expect_unchanged([&] { return attach_device_to_domain(s, 1, kDev1, d, true); }).rc,
            rcOutOfMemory);
  EXPECT_EQ(attach_device_to_domain(s, 1, kDev1, d).rc, rcOk);
  expect_invariants();
}

TEST_F(ModelTest, RevokedHandleIsReportedBeforeItsType) {
  ASSERT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
  const Handle d = ok_handle(create_domain(s, 1));
  const Handle b = buffer(1);
  const Handle g = ok_handle(dma_begin_ex(s, 1, b, d, 0));
  ASSERT_EQ(handle_close(s, 1, d).rc, rcOk);
  ASSERT_TRUE(lookup_handle(s, 1, g)->revoked);
  EXPECT_EQ(expect_unchanged([&] { return attach_device_to_domain(s, 1, kDev1, g); }).rc,
            rcHandleRevoked);
  EXPECT_EQ(expect_unchanged([&] { return dma_begin(s, 1, g, 0); }).rc, rcHandleRevoked);
  EXPECT_EQ(dma_get_info(s, 1, g).rc, rcHandleRevoked);
  EXPECT_EQ(dma_get_phys_info(s, 1, g).rc, rcHandleRevoked);
  EXPECT_EQ(handle_close(s, 1, g).rc, rcOk) << "closing a revoked handle frees the slot";
  EXPECT_EQ(lookup_handle(s, 1, g), nullptr);
  expect_invariants();
}

TEST_F(ModelTest, RevokedHandleInEveryHandleArgument) {
  const Handle d = ok_handle(create_domain(s, 1));
  const Handle b = buffer(1);
  const Handle g = ok_handle(dma_begin_ex(s, 1, b, d, 0));
  ASSERT_EQ(handle_close(s, 1, d).rc, rcOk);  // g is now revoked
  const Handle d2 = ok_handle(create_domain(s, 1));
  EXPECT_EQ(expect_unchanged([&] { return detach_device_from_domain(s, 1, kDev0, g); }).rc,
            rcHandleRevoked);
  EXPECT_EQ(expect_unchanged([&] { return dma_map(s, 1, g, 0, kPage, 3); }).rc, rcHandleRevoked);
  EXPECT_EQ(expect_unchanged([&] { return dma_begin_ex(s, 1, g, d2, 0); }).rc, rcHandleRevoked);
  EXPECT_EQ(expect_unchanged([&] { return dma_begin_ex(s, 1, b, g, 0); }).rc, rcHandleRevoked)
      << "the domain argument";
  EXPECT_EQ(expect_unchanged([&] { return dma_begin_ex(s, 1, b, d2, 0, true); }).rc, rcOutOfMemory);
  ok_handle(dma_begin_ex(s, 1, b, d2, 0));
  expect_invariants();
}

TEST_F(ModelTest, StateHashAgreesWithEquality) {
  ASSERT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
  const State copy = s;
  EXPECT_EQ(StateHash{}(copy), StateHash{}(s));
  ok_handle(dma_begin(s, 1, buffer(1), 0));
  EXPECT_NE(copy, s);
  EXPECT_NE(StateHash{}(copy), StateHash{}(s));
}

TEST_F(ModelTest, DetachDeviceFromDomainErrors) {
  const Handle d = ok_handle(create_domain(s, 1));
  const Handle d2 = ok_handle(create_domain(s, 1));
  EXPECT_EQ(expect_unchanged([&] { return detach_device_from_domain(s, 1, kDev0, 9); }).rc,
            rcInvalidArgument);
  EXPECT_EQ(expect_unchanged([&] { return detach_device_from_domain(s, 1, kUnknown, d); }).rc,
            rcDeviceNotFound);
  EXPECT_EQ(expect_unchanged([&] { return detach_device_from_domain(s, 1, kDev0, d); }).rc,
            rcResourceNotFound)
      << "not attached";
  ASSERT_EQ(attach_device_to_domain(s, 1, kDev0, d2).rc, rcOk);
  EXPECT_EQ(expect_unchanged([&] { return detach_device_from_domain(s, 1, kDev0, d); }).rc,
            rcResourceNotFound)
      << "attached to another domain";
  EXPECT_EQ(detach_device_from_domain(s, 1, kDev0, d2).rc, rcOk);
  EXPECT_FALSE(attachment(s, kDev0));
}

TEST_F(ModelTest, ClosingADomainDetachesAndRevokes) {
  const Handle d = ok_handle(create_domain(s, 1));
  const Handle b = buffer(1);
  ASSERT_EQ(attach_device_to_domain(s, 1, kDev0, d).rc, rcOk);
  const Handle g = ok_handle(dma_begin_ex(s, 1, b, d, 0x10000));
  EXPECT_TRUE(can_access(s, kDev0, 0x10000, Dir::Write).allowed);
  EXPECT_EQ(handle_close(s, 1, d).rc, rcOk) << "closing a domain in use succeeds";
  EXPECT_FALSE(attachment(s, kDev0));
  EXPECT_TRUE(s.grants.empty());
  EXPECT_TRUE(lookup_handle(s, 1, g)->revoked);
  EXPECT_EQ(can_access(s, kDev0, 0x10000, Dir::Write).fault_reason, 0x2);
  EXPECT_EQ(s.buffers.size(), 1u) << "the buffer handle still holds the buffer";
  expect_invariants();
}

// ---- Buffers -------------------------------------------------------------------------------

TEST_F(ModelTest, DmaCreateArgumentChecks) {
  auto invalid = [&](uint32_t order, uint64_t size, uint32_t flags) {
    return expect_unchanged([&] { return dma_create(s, 1, order, size, flags); }).rc ==
           rcInvalidArgument;
  };
  EXPECT_TRUE(invalid(0, 0, kBidir));
  EXPECT_TRUE(invalid(0, 100, kBidir));
  EXPECT_TRUE(invalid(0, (uint64_t{1} << 32) + kPage, kBidir));
  EXPECT_TRUE(invalid(19, kPage, kBidir)) << "order above DMA_ORDER_MAX";
  EXPECT_TRUE(invalid(0, kPage, 0x4)) << "no direction";
  EXPECT_TRUE(invalid(0, kPage, 0x40 | kBidir)) << "unknown flag";
  EXPECT_TRUE(invalid(0, 4097 * kPage, kBidir)) << "more than DMA_FRAMES_COUNT_MAX blocks";
  EXPECT_EQ(expect_unchanged([&] { return dma_create(s, 1, 0, kPage, kBidir, true); }).rc,
            rcOutOfMemory);
  EXPECT_EQ(dma_create(s, 1, 0, 4096 * kPage, kBidir | 0x4 | 0x30).rc, rcOk);
}

TEST_F(ModelTest, DmaCreateBlocksAndFootprint) {
  const Handle h = ok_handle(dma_create(s, 1, 2, 5 * kPage, kBidir));
  const Buffer& b = s.buffers.at(lookup_handle(s, 1, h)->object);
  EXPECT_EQ(b.blocks, 2u);
  EXPECT_EQ(b.footprint_pages(), 8u);
  EXPECT_EQ(b.size, 5 * kPage);
  EXPECT_EQ(b.creator, 1u);
  EXPECT_EQ(dma_get_phys_info(s, 1, h).count, 2u);
}

TEST_F(ModelTest, DmaCreateContinuousUsesTheSmallestCoveringOrder) {
  const Handle h = ok_handle(dma_create_continuous(s, 1, 5 * kPage, kToDevice));
  const Buffer& b = s.buffers.at(lookup_handle(s, 1, h)->object);
  EXPECT_EQ(b.order, 3u);
  EXPECT_EQ(b.blocks, 1u);
  EXPECT_EQ(expect_unchanged([&] {
              return dma_create_continuous(s, 1, (uint64_t{1} << 18) * kPage + kPage, kBidir);
            }).rc,
            rcInvalidArgument)
      << "needs an order above DMA_ORDER_MAX";
  EXPECT_EQ(expect_unchanged([&] { return dma_create_continuous(s, 1, 0, kBidir); }).rc,
            rcInvalidArgument);
  EXPECT_EQ(expect_unchanged([&] { return dma_create_continuous(s, 1, kPage, kBidir, true); }).rc,
            rcOutOfMemory);
}

TEST_F(ModelTest, DmaMapChecks) {
  const Handle b = buffer(1, 2);
  const Handle d = ok_handle(create_domain(s, 1));
  auto map = [&](Handle h, uint64_t off, uint64_t len, int vm) {
    return expect_unchanged([&] { return dma_map(s, 1, h, off, len, vm); }).rc;
  };
  EXPECT_EQ(map(9, 0, kPage, 3), rcInvalidArgument);
  EXPECT_EQ(map(d, 0, kPage, 3), rcInvalidArgument);
  EXPECT_EQ(map(b, 1, kPage, 3), rcInvalidArgument);
  EXPECT_EQ(map(b, 0, 0, 3), rcInvalidArgument);
  EXPECT_EQ(map(b, 0, 100, 3), rcInvalidArgument);
  EXPECT_EQ(map(b, kPage, 2 * kPage, 3), rcInvalidArgument);
  EXPECT_EQ(map(b, 0, kPage, 0), rcInvalidArgument);
  EXPECT_EQ(map(b, 0, kPage, 4), rcInvalidArgument);
  EXPECT_EQ(expect_unchanged([&] { return dma_map(s, 1, b, 0, kPage, 1, true); }).rc,
            rcOutOfMemory);
  const Handle m = ok_handle(dma_map(s, 1, b, kPage, kPage, 2));
  EXPECT_EQ(lookup_handle(s, 1, m)->kind, Kind::Mapping);
  ASSERT_EQ(handle_close(s, 1, b).rc, rcOk);
  EXPECT_EQ(s.buffers.size(), 1u) << "the mapping holds the buffer";
  ASSERT_EQ(handle_close(s, 1, m).rc, rcOk);
  EXPECT_TRUE(s.buffers.empty());
  expect_invariants();
}

// ---- Grants --------------------------------------------------------------------------------

TEST_F(ModelTest, DmaBeginErrorsInOrder) {
  const Handle b = buffer(1, 2);
  EXPECT_EQ(expect_unchanged([&] { return dma_begin(s, 1, 9, 0); }).rc, rcInvalidArgument);
  EXPECT_EQ(expect_unchanged([&] { return dma_begin(s, 2, b, 0); }).rc, rcInvalidArgument);
  EXPECT_EQ(expect_unchanged([&] { return dma_begin(s, 1, b, 0); }).rc, rcResourceNotFound)
      << "no automatic domain yet";
  ASSERT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
  EXPECT_EQ(expect_unchanged([&] { return dma_begin(s, 1, b, 0, true); }).rc, rcOutOfMemory);
  const Handle g = ok_handle(dma_begin(s, 1, b, 0x2000));
  EXPECT_EQ(lookup_handle(s, 1, g)->kind, Kind::Grant);
  EXPECT_EQ(expect_unchanged([&] { return dma_begin(s, 1, b, 0x8000); }).rc, rcAlreadyExists);
  EXPECT_EQ(expect_unchanged([&] { return dma_begin(s, 1, g, 0x8000); }).rc, rcInvalidArgument)
      << "a grant handle is not a buffer handle";
  expect_invariants();
}

TEST_F(ModelTest, DmaBeginRejectsIllegalIovaChoices) {
  ASSERT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
  const Handle b1 = buffer(1, 2);
  const Handle b2 = buffer(1, 2);
  ok_handle(dma_begin(s, 1, b1, 0x4000));  // pages 4, 5
  for (const uint64_t iova :
       {uint64_t{0x3000}, uint64_t{0x5000}, uint64_t{0x100}, (uint64_t{1} << 39) - kPage}) {
    const Result r = expect_unchanged([&] { return dma_begin(s, 1, b2, iova); });
    EXPECT_TRUE(r.illegal_choice) << std::hex << iova;
  }
  EXPECT_TRUE(valid_iova(s, s.processes.at(1).auto_domain, 0x6000, 2));
  EXPECT_TRUE(valid_iova(s, s.processes.at(1).auto_domain, 0x2000, 2));
  EXPECT_EQ(dma_begin(s, 1, b2, 0x2000).rc, rcOk);
}

TEST_F(ModelTest, DmaBeginExOneGrantPerDomain) {
  const Handle b = buffer(1);
  const Handle d1 = ok_handle(create_domain(s, 1));
  const Handle d2 = ok_handle(create_domain(s, 1));
  EXPECT_EQ(expect_unchanged([&] { return dma_begin_ex(s, 1, b, 9, 0); }).rc, rcInvalidArgument);
  EXPECT_EQ(expect_unchanged([&] { return dma_begin_ex(s, 1, b, b, 0); }).rc, rcInvalidArgument);
  EXPECT_EQ(expect_unchanged([&] { return dma_begin_ex(s, 1, d1, d1, 0); }).rc, rcInvalidArgument);
  ok_handle(dma_begin_ex(s, 1, b, d1, 0));
  EXPECT_EQ(expect_unchanged([&] { return dma_begin_ex(s, 1, b, d1, 0x10000); }).rc,
            rcAlreadyExists);
  ok_handle(dma_begin_ex(s, 1, b, d2, 0));  // the same IOVA in another domain
  EXPECT_EQ(expect_unchanged([&] { return dma_begin_ex(s, 1, b, d2, 0, true); }).rc,
            rcAlreadyExists);
  EXPECT_EQ(s.grants.size(), 2u);
  expect_invariants();
}

// The refinement suite's generation model tries stand-in IOVAs on the state itself
// (ApiCommand::apply): an illegal choice must leave it as it was, for BeginEx as for Begin.
TEST_F(ModelTest, DmaBeginExIllegalIovaChoiceChangesNothing) {
  const Handle b1 = buffer(1, 2);
  const Handle b2 = buffer(1, 2);
  const Handle d = ok_handle(create_domain(s, 1));
  ok_handle(dma_begin_ex(s, 1, b1, d, 0x4000));  // pages 4, 5
  for (const uint64_t iova : {uint64_t{0x5000}, uint64_t{0x100}, uint64_t{1} << 39}) {
    const Result r = expect_unchanged([&] { return dma_begin_ex(s, 1, b2, d, iova); });
    EXPECT_TRUE(r.illegal_choice) << std::hex << iova;
  }
  EXPECT_EQ(ok_handle(dma_begin_ex(s, 1, b2, d, 0x6000)), 5u) << "no handle or id was used up";
  EXPECT_EQ(s.grants.rbegin()->first, 2u);
  expect_invariants();
}

TEST_F(ModelTest, GrantKeepsTheBufferAfterItsHandleCloses) {
  ASSERT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
  const Handle b = buffer(1);
  const Handle g = ok_handle(dma_begin(s, 1, b, 0));
  ASSERT_EQ(handle_close(s, 1, b).rc, rcOk);
  EXPECT_TRUE(can_access(s, kDev0, 0, Dir::Read).allowed);
  EXPECT_EQ(dma_get_info(s, 1, g).count, 2u);
  ASSERT_EQ(handle_close(s, 1, g).rc, rcOk);
  EXPECT_TRUE(s.buffers.empty());
  EXPECT_EQ(can_access(s, kDev0, 0, Dir::Read).fault_reason, 0x6);
  expect_invariants();
}

TEST_F(ModelTest, IommuDisabledBeginNeedsNoDomain) {
  start(false);
  const Handle b = buffer(1);
  const Handle g = ok_handle(dma_begin(s, 1, b, 0x123000));
  EXPECT_FALSE(s.grants.begin()->second.domain);
  EXPECT_EQ(expect_unchanged([&] { return dma_begin(s, 1, b, 0x123000); }).rc, rcAlreadyExists);
  EXPECT_EQ(dma_get_info(s, 1, b).count, 2u) << "IOVA = physical: every block is visible";
  EXPECT_EQ(dma_get_info(s, 1, g).count, 2u);
  const Access a = can_access(s, kDev0, 0x999000, Dir::Write);
  EXPECT_TRUE(a.allowed && a.untranslated);
  expect_invariants();
}

// ---- KnIoDmaGetInfo / KnIoDmaGetPhysInfo ---------------------------------------------------

TEST_F(ModelTest, GetInfoCounts) {
  const Handle b = ok_handle(dma_create(s, 1, 1, 3 * kPage, kBidir));  // 2 blocks
  const Handle d = ok_handle(create_domain(s, 1));
  EXPECT_EQ(dma_get_info(s, 1, b).count, 0u) << "no grant in the automatic domain";
  const Handle gx = ok_handle(dma_begin_ex(s, 1, b, d, 0));
  EXPECT_EQ(dma_get_info(s, 1, b).count, 0u) << "a grant in a created domain does not count";
  EXPECT_EQ(dma_get_info(s, 1, gx).count, 2u);
  ASSERT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
  ok_handle(dma_begin(s, 1, b, 0));
  EXPECT_EQ(dma_get_info(s, 1, b).count, 2u);
  EXPECT_EQ(dma_get_phys_info(s, 1, b).count, 2u);
  EXPECT_EQ(dma_get_phys_info(s, 1, gx).count, 2u);
}

TEST_F(ModelTest, GetInfoErrors) {
  const Handle b = buffer(1);
  const Handle d = ok_handle(create_domain(s, 1));
  const Handle m = ok_handle(dma_map(s, 1, b, 0, kPage, 3));
  for (const Handle h : {Handle{9}, d, m}) {
    EXPECT_EQ(dma_get_info(s, 1, h).rc, rcInvalidArgument) << h;
    EXPECT_EQ(dma_get_phys_info(s, 1, h).rc, rcInvalidArgument) << h;
  }
  EXPECT_EQ(dma_get_info(s, 2, b).rc, rcInvalidArgument) << "foreign handle";
  EXPECT_EQ(dma_get_info(s, 1, b, true).rc, rcOutOfMemory);
  EXPECT_EQ(dma_get_phys_info(s, 1, b, true).rc, rcOutOfMemory);
}

// ---- can_access ----------------------------------------------------------------------------

TEST_F(ModelTest, CanAccessFaultReasons) {
  EXPECT_EQ(can_access(s, kDev0, 0, Dir::Read).fault_reason, 0x2) << "unattached";
  EXPECT_EQ(can_access(s, kUnknown, 0, Dir::Read).fault_reason, 0x2) << "unknown device";
  ASSERT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
  EXPECT_EQ(can_access(s, kDev0, uint64_t{1} << 39, Dir::Read).fault_reason, 0x4);
  EXPECT_EQ(can_access(s, kDev0, 0, Dir::Read).fault_reason, 0x6) << "unmapped read";
  EXPECT_EQ(can_access(s, kDev0, 0, Dir::Write).fault_reason, 0x5) << "unmapped write";
  const Handle to = buffer(1, 1, kToDevice);
  const Handle from = buffer(1, 1, kFromDevice);
  ok_handle(dma_begin(s, 1, to, 0x1000));
  ok_handle(dma_begin(s, 1, from, 0x2000));
  EXPECT_TRUE(can_access(s, kDev0, 0x1000, Dir::Read).allowed);
  EXPECT_EQ(can_access(s, kDev0, 0x1000, Dir::Write).fault_reason, 0x5);
  EXPECT_TRUE(can_access(s, kDev0, 0x2fff, Dir::Write).allowed);
  EXPECT_EQ(can_access(s, kDev0, 0x2000, Dir::Read).fault_reason, 0x6);
  EXPECT_EQ(can_access(s, kDev1, 0x1000, Dir::Read).fault_reason, 0x2)
      << "another device of the same process, not attached";
}

TEST_F(ModelTest, CanAccessReachesTheWholeFootprint) {
  ASSERT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
  const Handle b = ok_handle(dma_create(s, 1, 1, 3 * kPage, kBidir));  // footprint 4 pages
  ok_handle(dma_begin(s, 1, b, 0x10000));
  const BufferId id = lookup_handle(s, 1, b)->object;
  for (uint64_t page = 0; page < 4; ++page) {
    const Access a = can_access(s, kDev0, 0x10000 + page * kPage + 8, Dir::Read);
    EXPECT_TRUE(a.allowed);
    EXPECT_EQ(a.buffer, id);
    EXPECT_EQ(a.page, page);
    EXPECT_FALSE(a.untranslated);
  }
  EXPECT_FALSE(can_access(s, kDev0, 0x10000 + 4 * kPage, Dir::Read).allowed);
  EXPECT_FALSE(can_access(s, kDev0, 0x10000 - 1, Dir::Read).allowed);
}

TEST_F(ModelTest, DevicesOfOtherDomainsCannotReachAGrant) {
  ASSERT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
  ASSERT_EQ(attach_device(s, 2, kDev1).rc, rcOk);
  ok_handle(dma_begin(s, 1, buffer(1), 0));
  EXPECT_TRUE(can_access(s, kDev0, 0, Dir::Read).allowed);
  EXPECT_EQ(can_access(s, kDev1, 0, Dir::Read).fault_reason, 0x6);
  expect_invariants();
}

// ---- Process exit --------------------------------------------------------------------------

TEST_F(ModelTest, ProcessExitReleasesEverything) {
  ASSERT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
  const Handle d = ok_handle(create_domain(s, 1));
  ASSERT_EQ(attach_device_to_domain(s, 1, kDev1, d).rc, rcOk);
  const Handle b = buffer(1);
  ok_handle(dma_begin(s, 1, b, 0));
  ok_handle(dma_begin_ex(s, 1, b, d, 0));
  ok_handle(dma_map(s, 1, b, 0, kPage, 3));
  ASSERT_EQ(attach_device(s, 2, 0x0010).rc, rcBusy);
  EXPECT_EQ(process_exit(s, 1).rc, rcOk);
  EXPECT_FALSE(process_alive(s, 1));
  EXPECT_TRUE(s.domains.empty());
  EXPECT_TRUE(s.buffers.empty());
  EXPECT_TRUE(s.grants.empty());
  EXPECT_TRUE(s.mappings.empty());
  EXPECT_FALSE(attachment(s, kDev0));
  EXPECT_FALSE(attachment(s, kDev1));
  EXPECT_EQ(can_access(s, kDev0, 0, Dir::Read).fault_reason, 0x2);
  EXPECT_EQ(attach_device(s, 2, kDev1).rc, rcOk) << "the device is free again";
  expect_invariants();
}

// ---- check_invariants detects corrupted states ---------------------------------------------

class InvariantTest : public ModelTest {
 protected:
  void SetUp() override {
    ModelTest::SetUp();
    ASSERT_EQ(attach_device(s, 1, kDev0).rc, rcOk);
    dom = *s.processes.at(1).auto_domain;
    buf_handle = buffer(1);
    ok_handle(dma_begin(s, 1, buf_handle, 0));
    expect_invariants();
  }
  bool names(const std::string& invariant) {
    const auto v = check_invariants(s);
    return std::find(v.begin(), v.end(), invariant) != v.end();
  }
  DomainSerial dom = 0;
  Handle buf_handle = 0;
};

TEST_F(InvariantTest, AttachmentUnique) {
  s.domains.emplace(99, Domain{2, false, {kDev0}});
  EXPECT_TRUE(names("AttachmentUnique"));
}

TEST_F(InvariantTest, DomainOwnerAndExitedUnreachable) {
  s.processes.at(1).alive = false;
  EXPECT_TRUE(names("DomainOwner"));
  EXPECT_TRUE(names("ExitedUnreachable"));
}

TEST_F(InvariantTest, AutoDomainUniqueAndLifetime) {
  s.domains.emplace(99, Domain{1, true, {}});
  EXPECT_TRUE(names("AutoDomainUnique"));
  s.domains.erase(99);
  s.processes.at(1).auto_domain.reset();
  s.domains.erase(dom);
  EXPECT_TRUE(names("AutoDomainLifetime"));
}

TEST_F(InvariantTest, GrantsDisjointAndInRange) {
  Grant copy = s.grants.begin()->second;
  copy.iova += kPage;
  s.grants.emplace(99, copy);
  EXPECT_TRUE(names("GrantsDisjoint"));
  s.grants.at(99).iova = uint64_t{1} << 39;
  EXPECT_TRUE(names("GrantInRange"));
}

TEST_F(InvariantTest, ObjectNamedOnceAndIsolation) {
  // A revoked handle that still names a live grant (the grant's own handle is still there).
  const State named = s;
  s.processes.at(1).handles.emplace(9, HandleEntry{Kind::Grant, s.grants.begin()->first, true});
  EXPECT_TRUE(names("ObjectNamedOnce"));
  // A grant nobody names any more: its handle was closed but the device can still reach it.
  s = named;
  s.processes.at(1).handles.erase(2);
  EXPECT_TRUE(names("ObjectNamedOnce"));
  // A created domain named twice.
  s = initial_state(config());
  process_create(s);
  const Result d = create_domain(s, 1);
  ASSERT_EQ(d.rc, rcOk);
  expect_invariants();
  s.processes.at(1).handles.emplace(9, *lookup_handle(s, 1, d.handle));
  EXPECT_TRUE(names("ObjectNamedOnce"));
  s = initial_state(config());
  process_create(s);
  process_create(s);
  ASSERT_EQ(attach_device(s, 2, kDev1).rc, rcOk);
  const Handle b = buffer(1);
  s.grants.emplace(7, Grant{lookup_handle(s, 1, b)->object, s.processes.at(2).auto_domain, 0, 2});
  EXPECT_TRUE(names("Isolation")) << "process 2's device reaches process 1's buffer";
}

// Isolation probes each page once: a page two adjacent grants share as probe (one's end, the
// next one's start) must still be checked.
TEST_F(InvariantTest, IsolationAtAPageAdjacentGrantsShare) {
  s = initial_state(config());
  process_create(s);
  process_create(s);
  ASSERT_EQ(attach_device(s, 2, kDev1).rc, rcOk);
  const Handle own = buffer(2);
  ok_handle(dma_begin(s, 2, own, 0));  // pages 0, 1 of process 2's automatic domain
  expect_invariants();
  // Page 2 in the same domain, of process 1's buffer: the one page where the device must not
  // reach is also the page just past the first grant.
  const Handle foreign = buffer(1, 1);
  s.grants.emplace(
      7, Grant{lookup_handle(s, 1, foreign)->object, s.processes.at(2).auto_domain, 2 * kPage, 1});
  EXPECT_TRUE(names("Isolation"));
}

// Both directions of a probe page come from one lookup: a violation only a write shows (a foreign
// buffer the device may only write) must still be found.
TEST_F(InvariantTest, IsolationInTheWriteDirectionAlone) {
  s = initial_state(config());
  process_create(s);
  process_create(s);
  ASSERT_EQ(attach_device(s, 2, kDev1).rc, rcOk);
  const Handle foreign = buffer(1, 1, kFromDevice);
  s.grants.emplace(
      7, Grant{lookup_handle(s, 1, foreign)->object, s.processes.at(2).auto_domain, 0, 1});
  ASSERT_FALSE(can_access(s, kDev1, 0, Dir::Read).allowed);
  ASSERT_TRUE(can_access(s, kDev1, 0, Dir::Write).allowed);
  EXPECT_TRUE(names("Isolation"));
}

// One reference of any kind keeps a buffer, a revoked handle is none, and a buffer without one
// is a leak wherever it is in id order.
TEST_F(InvariantTest, BufferReferencedByEachKindOfReference) {
  ASSERT_EQ(dma_map(s, 1, buf_handle, 0, kPage, 1).rc, rcOk);
  ASSERT_EQ(handle_close(s, 1, buf_handle).rc, rcOk);  // the grant and the mapping keep it
  expect_invariants();
  s.grants.clear();
  EXPECT_FALSE(names("BufferReferenced")) << "the mapping alone keeps the buffer";
  s.mappings.clear();
  EXPECT_TRUE(names("BufferReferenced"));
  s = initial_state(config());
  process_create(s);
  buffer(1);
  buffer(1);
  const Handle last = buffer(1);
  expect_invariants();
  s.processes.at(1).handles.erase(last);
  EXPECT_TRUE(names("BufferReferenced")) << "the last buffer in id order has no reference";
  s.processes.at(1).handles.emplace(last, HandleEntry{Kind::Buffer, 3, true});
  EXPECT_TRUE(names("BufferReferenced")) << "a revoked handle does not keep a buffer";
}

// A grant named by two live handles, or only by an exited process's handle, is not named once.
TEST_F(InvariantTest, ObjectNamedOnceCountsLiveUnrevokedNames) {
  const GrantId g = s.grants.begin()->first;
  s.processes.at(2).handles.emplace(5, HandleEntry{Kind::Grant, g});
  EXPECT_TRUE(names("ObjectNamedOnce")) << "named by two processes";
  s.processes.at(2).handles.erase(5);
  expect_invariants();
  s.processes.at(2).handles.emplace(5, HandleEntry{Kind::Grant, g});
  s.processes.at(1).handles.erase(2);
  s.processes.at(2).alive = false;
  EXPECT_TRUE(names("ObjectNamedOnce")) << "named only by an exited process";
}

TEST_F(InvariantTest, ReferencesAndLeaks) {
  s.grants.begin()->second.buffer = 77;
  EXPECT_TRUE(names("GrantRefsLive"));
  s = initial_state(config());
  process_create(s);
  s.buffers.emplace(5, Buffer{1, kBidir, 0, kPage, 1});
  EXPECT_TRUE(names("BufferReferenced"));
  s.processes.at(1).handles.emplace(1, HandleEntry{Kind::Mapping, 3});
  EXPECT_TRUE(names("HandleRefsLive"));
  s.config.max_domains = 0;
  s.domains.emplace(1, Domain{1, false, {}});
  EXPECT_TRUE(names("DomainCapacity"));
  s.config.iommu_enabled = false;
  s.domains.at(1).devices.insert(kDev0);
  EXPECT_TRUE(names("AttachmentValid"));
}

}  // namespace
}  // namespace kniommu::model
