// Adapters that crash or hang, for the crash-isolation tests of kniommu-conform: the example
// adapter (loaded at run time) whose KnIoDmaBegin, from the second successful grant of a session
// on, dies — SIGSEGV (a write through a null pointer), abort() — or never returns
// (KNIOMMU_CRASH_MODE selects, at compile time). The runner must survive, fail the case with the
// signal or the time limit, shrink it and write a replay file. The hanging adapter records its
// process id in $KNIOMMU_HANG_PIDS so the test can check that no hung child is left behind.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>

#include "kniommu/adapter.h"

#define KNIOMMU_CRASH_SEGV 1
#define KNIOMMU_CRASH_ABORT 2
#define KNIOMMU_CRASH_HANG 3

namespace {

KnAdapterV1 g_real;
std::map<KnAdapterSession*, int> g_grants;  // successful grants per session

[[noreturn]] void die() {
#if KNIOMMU_CRASH_MODE == KNIOMMU_CRASH_SEGV
  // A real SIGSEGV (not a null store, which UBSan in the asan preset would turn into its own
  // report and exit); the test runs with ASAN_OPTIONS=handle_segv=0 so ASan does not catch it.
  std::raise(SIGSEGV);
  std::abort();  // not reached
#elif KNIOMMU_CRASH_MODE == KNIOMMU_CRASH_ABORT
  std::abort();
#else
  if (const char* file = std::getenv("KNIOMMU_HANG_PIDS")) {
    if (std::FILE* f = std::fopen(file, "a")) {
      std::fprintf(f, "%d\n", static_cast<int>(getpid()));
      std::fclose(f);
    }
  }
  for (;;) pause();
#endif
}

Retcode begin_then_die(KnAdapterSession* session, KnPid pid, Handle rid, Handle* handle) {
  const Retcode rc = g_real.dma_begin(session, pid, rid, handle);
  if (rc == rcOk && ++g_grants[session] >= 2) die();
  return rc;
}

void destroy(KnAdapterSession* session) {
  g_grants.erase(session);
  g_real.system_destroy(session);
}

const KnAdapterV1* load() {
  void* handle = dlopen(KNIOMMU_EXAMPLE_ADAPTER, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    std::fprintf(stderr, "crashing adapter: cannot load %s: %s\n", KNIOMMU_EXAMPLE_ADAPTER,
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
  static KnAdapterV1 crashing = g_real;
  crashing.name = "crashing: second KnIoDmaBegin dies";
  crashing.dma_begin = begin_then_die;
  crashing.system_destroy = destroy;
  return &crashing;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const KnAdapterV1* kniommu_adapter_v1(void) {
  static const KnAdapterV1* table = load();
  return table;
}
