// Shared by the test adapters of kniommu-conform's own tests (broken_adapter.cpp,
// crashing_adapter.cpp): each is the example adapter, loaded at run time from
// KNIOMMU_EXAMPLE_ADAPTER, with one entry of its table replaced by a deliberately wrong one.
#pragma once

#include <dlfcn.h>

#include <cstdio>
#include <cstring>

#include "kniommu/adapter.h"

namespace kniommu::conform::test {

// Loads the example adapter: `real` becomes its table and `patched` a copy for the caller to
// change. False (with a message naming `who`) when it cannot be loaded.
inline bool load_example_adapter(const char* who, KnAdapterV1& real, KnAdapterV1& patched) {
  void* handle = dlopen(KNIOMMU_EXAMPLE_ADAPTER, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    std::fprintf(stderr, "%s: cannot load %s: %s\n", who, KNIOMMU_EXAMPLE_ADAPTER, dlerror());
    return false;
  }
  void* symbol = dlsym(handle, KN_ADAPTER_ENTRY_SYMBOL);
  if (symbol == nullptr) return false;
  KnAdapterEntryV1 entry = nullptr;
  std::memcpy(&entry, &symbol, sizeof entry);
  const KnAdapterV1* table = entry();
  if (table == nullptr) return false;
  real = *table;
  patched = *table;
  return true;
}

}  // namespace kniommu::conform::test

// The entry point every adapter library exports, returning the table `load()` builds once.
#define KNIOMMU_TEST_ADAPTER_ENTRY(load)                                                          \
  extern "C" __attribute__((visibility("default"))) const KnAdapterV1* kniommu_adapter_v1(void) { \
    static const KnAdapterV1* table = load();                                                     \
    return table;                                                                                 \
  }
