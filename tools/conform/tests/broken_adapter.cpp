// A deliberately broken adapter for kniommu-conform's own test: the example adapter (kniommu's
// implementation behind the ABI, loaded at run time) with one isolation bug injected —
// KnIommuDetachDevice reports success but the device keeps its access (it is attached again
// behind the caller's back). The suite must report it with a short, shrunk counterexample.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kniommu/adapter.h"

namespace {

KnAdapterV1 g_real;

Retcode detach_keeps_access(KnAdapterSession* session, KnPid pid, uint16_t bdf) {
  const Retcode rc = g_real.iommu_detach_device(session, pid, bdf);
  if (rc == rcOk) (void)g_real.iommu_attach_device(session, pid, bdf);
  return rc;
}

const KnAdapterV1* load() {
  void* handle = dlopen(KNIOMMU_EXAMPLE_ADAPTER, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    std::fprintf(stderr, "broken adapter: cannot load %s: %s\n", KNIOMMU_EXAMPLE_ADAPTER,
                 dlerror());
    return nullptr;
  }
  void* symbol = dlsym(handle, KN_ADAPTER_ENTRY_SYMBOL);
  if (symbol == nullptr) return nullptr;
  KnAdapterEntryV1 entry = nullptr;
  std::memcpy(&entry, &symbol, sizeof entry);
  const KnAdapterV1* real = entry();
  if (real == nullptr) return nullptr;
  g_real = *real;
  static KnAdapterV1 broken = g_real;
  broken.name = "broken: detach keeps access";
  broken.iommu_detach_device = detach_keeps_access;
  return &broken;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const KnAdapterV1* kniommu_adapter_v1(void) {
  static const KnAdapterV1* table = load();
  return table;
}
