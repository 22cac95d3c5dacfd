// Adapters that crash or hang, for the crash-isolation tests of kniommu-conform: the example
// adapter (loaded at run time) whose KnIoDmaBegin, from the second successful grant of a session
// on, dies — SIGSEGV (a write through a null pointer), abort() — or never returns
// (KNIOMMU_CRASH_MODE selects, at compile time). The runner must survive, fail the case with the
// signal or the time limit, shrink it and write a replay file. The hanging adapter records its
// process id in $KNIOMMU_HANG_PIDS so the test can check that no hung child is left behind.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "example_adapter_loader.h"
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
  static KnAdapterV1 crashing;
  if (!kniommu::conform::test::load_example_adapter("crashing adapter", g_real, crashing))
    return nullptr;
  crashing.name = "crashing: second KnIoDmaBegin dies";
  crashing.dma_begin = begin_then_die;
  crashing.system_destroy = destroy;
  return &crashing;
}

}  // namespace

KNIOMMU_TEST_ADAPTER_ENTRY(load)
