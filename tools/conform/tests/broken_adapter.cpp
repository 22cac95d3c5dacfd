// A deliberately broken adapter for kniommu-conform's own test: the example adapter (kniommu's
// implementation behind the ABI, loaded at run time) with one isolation bug injected —
// KnIommuDetachDevice reports success but the device keeps its access (it is attached again
// behind the caller's back). The suite must report it with a short, shrunk counterexample.
#include "example_adapter_loader.h"
#include "kniommu/adapter.h"

namespace {

KnAdapterV1 g_real;

Retcode detach_keeps_access(KnAdapterSession* session, KnPid pid, uint16_t bdf) {
  const Retcode rc = g_real.iommu_detach_device(session, pid, bdf);
  if (rc == rcOk) (void)g_real.iommu_attach_device(session, pid, bdf);
  return rc;
}

const KnAdapterV1* load() {
  static KnAdapterV1 broken;
  if (!kniommu::conform::test::load_example_adapter("broken adapter", g_real, broken))
    return nullptr;
  broken.name = "broken: detach keeps access";
  broken.iommu_detach_device = detach_keeps_access;
  return &broken;
}

}  // namespace

KNIOMMU_TEST_ADAPTER_ENTRY(load)
