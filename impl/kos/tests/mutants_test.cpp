// Each mutation switch impl/kos and the driver implement makes the system observably wrong through
// the API and device DMA alone (the refinement suite must be able to catch it). Every scenario is
// run twice: correct (the check holds) and with the mutant (it fails).
#include <functional>

#include "common/mutation.h"
#include "kos/tests/sim_fixture.h"

namespace kniommu::kos::test {
namespace {

class Mutants : public SimTest {
 protected:
  // Runs `scenario` on a fresh system; returns whether the system behaved correctly.
  bool correct_under(Mutant m, const std::function<bool()>& scenario) {
    stop();
    ScopedMutant selected(m);
    start(config());
    const bool ok = scenario();
    stop(m == Mutant::None);
    start(config());
    return ok;
  }
  void expect_caught(Mutant m, const std::function<bool()>& scenario) {
    if (!kMutantsCompiled) GTEST_SKIP() << "built without KNIOMMU_MUTANTS";
    EXPECT_TRUE(correct_under(Mutant::None, scenario)) << "scenario wrong without the mutant";
    EXPECT_FALSE(correct_under(m, scenario)) << mutant_name(m) << " not observable";
  }
  bool faults(DmaResult r) { return r.rc == rcFail; }
  // Attach kDev0, grant a BIDIR page, read it once (fills the IOTLB); returns the IOVA.
  std::uint64_t granted_and_cached(Handle* grant) {
    EXPECT_EQ(KnIommuAttachDevice(kDev0), rcOk);
    const Handle b = buffer(4096, DMA_DIR_BIDIR);
    EXPECT_EQ(KnIoDmaBegin(b, grant), rcOk);
    const std::uint64_t iova = iova_of(*grant);
    EXPECT_EQ(dma_read(kDev0, iova).rc, rcOk);
    return iova;
  }
  // Revocation scenarios: a cached translation, then `revoke`; the device must fault afterwards.
  bool faults_after(const std::function<void(Handle grant)>& revoke) {
    Handle g = 0;
    const std::uint64_t iova = granted_and_cached(&g);
    revoke(g);
    return faults(dma_read(kDev0, iova));
  }
  bool faults_after_grant_close() {
    return faults_after([](Handle g) { KnHandleClose(g); });
  }
  bool faults_after_detach() {
    return faults_after([](Handle) { KnIommuDetachDevice(kDev0); });
  }
};

TEST_F(Mutants, NoIotlbInvalidateOnRevoke) {
  expect_caught(Mutant::NoIotlbInvalidateOnRevoke, [&] { return faults_after_grant_close(); });
}

TEST_F(Mutants, WrongDidInInvalidation) {
  expect_caught(Mutant::WrongDidInInvalidation, [&] { return faults_after_grant_close(); });
}

TEST_F(Mutants, DidReusedWithoutInvalidation) {
  expect_caught(Mutant::DidReusedWithoutInvalidation, [&] {
    Handle d = 0, g = 0, d2 = 0;
    KnIommuCreateDomain(&d);
    KnIommuAttachDeviceToDomain(kDev0, d);
    KnIoDmaBeginEx(buffer(4096, DMA_DIR_BIDIR), d, &g);
    const std::uint64_t iova = iova_of(g);
    dma_read(kDev0, iova);
    KnHandleClose(d);
    KnIommuCreateDomain(&d2);  // gets the same (lowest free) DID
    KnIommuAttachDeviceToDomain(kDev0, d2);
    return faults(dma_read(kDev0, iova));
  });
}

TEST_F(Mutants, ContextLeftPresentAfterDetach) {
  expect_caught(Mutant::ContextLeftPresentAfterDetach, [&] { return faults_after_detach(); });
}

TEST_F(Mutants, NoContextInvalidateOnDetach) {
  expect_caught(Mutant::NoContextInvalidateOnDetach, [&] { return faults_after_detach(); });
}

TEST_F(Mutants, DeviceAttachedTwice) {
  expect_caught(Mutant::DeviceAttachedTwice, [&] {
    KnIommuAttachDevice(kDev0);
    bind(new_process());
    return KnIommuAttachDevice(kDev0) == rcBusy;
  });
}

TEST_F(Mutants, AutoDomainCreatedTwice) {
  expect_caught(Mutant::AutoDomainCreatedTwice, [&] {
    Handle g = 0;
    const std::uint64_t iova = granted_and_cached(&g);
    KnIommuAttachDevice(kDev1);  // must join the same automatic domain
    return dma_read(kDev1, iova).rc == rcOk;
  });
}

TEST_F(Mutants, WriteForToDevice) {
  expect_caught(Mutant::WriteForToDevice, [&] {
    KnIommuAttachDevice(kDev0);
    Handle g = 0;
    KnIoDmaBegin(buffer(4096, DMA_DIR_TO_DEVICE), &g);
    return faults(dma_write_u64(kDev0, iova_of(g), 1));
  });
}

TEST_F(Mutants, GrantSurvivesExit) {
  expect_caught(Mutant::GrantSurvivesExit, [&] {
    Handle g = 0;
    const std::uint64_t iova = granted_and_cached(&g);
    KnSimProcessExit(sys_, pid_);
    bind(new_process());
    KnIommuAttachDevice(kDev0);  // the new automatic domain reuses the DID
    return faults(dma_read(kDev0, iova));
  });
}

// A skipped cache flush matters only on a unit whose walks do not snoop the CPU caches (ECAP.C=0).
class NonCoherentMutants : public Mutants {
 protected:
  KnSimConfig config() override {
    KnSimConfig c = Mutants::config();
    c.coherent = 0;
    return c;
  }
};

TEST_F(NonCoherentMutants, SkipsCacheFlush) {
  expect_caught(Mutant::SkipsCacheFlush, [&] { return faults_after_detach(); });
}

TEST_F(Mutants, SkipsCacheFlushIsUnobservableOnACoherentUnit) {
  if (!kMutantsCompiled) GTEST_SKIP() << "built without KNIOMMU_MUTANTS";
  EXPECT_TRUE(correct_under(Mutant::SkipsCacheFlush, [&] { return faults_after_detach(); }));
}

}  // namespace
}  // namespace kniommu::kos::test
