// Trace writer for trace validation against spec/KnIommu.tla (spec/README.md "Trace
// validation"; the method of Cirstea, Kuppe, Loillier, Merz and Riviere, 2024). While a
// TraceCase is alive on a thread, every API command and device DMA the suite executes there is
// logged with its arguments and the implementation's observed outcome; when the case ends (also
// by a failure) the trace is written to DIR as a TLA+ module (KnIommuTraceData) that
// spec/KnIommuTrace.tla checks with TLC.
//
// Mapping of implementation values onto the spec's constants (documented in spec/README.md):
// model pids are the spec's Pids; BDFs are integers (Devices = the bus, UnknownDevices = other
// BDFs the case passed); handle values are the spec's (1..MaxHandle, any other value becomes
// MaxHandle + 1, "never issued"); IOVAs are counted in 4 KiB pages; buffer sizes become
// footprints in pages; DIDs, buffer frames, grant and mapping objects are not logged (the spec
// allocates its own ids; only their number is a constant).
#pragma once

#include <cstdint>
#include <string>

#include "commands.h"
#include "sut.h"

namespace kniommu::conformance::trace {

// Records the executed case run on `sut` while alive, if `dir` is not empty.
class TraceCase {
 public:
  TraceCase(const std::string& dir, const Sut& sut);
  ~TraceCase();
  TraceCase(const TraceCase&) = delete;
  TraceCase& operator=(const TraceCase&) = delete;
  // The case failed although no exception leaves it (a caller that caught the failure). A case
  // left by an exception is marked failed anyway. Failed traces are named *-failed.trace.tla.
  void mark_failed() const;
};

// Hooks (no-ops without an active TraceCase on this thread).
// An API command: its shown call text, the implementation's outcome, the model's verdict.
void api_call(const Sut& sut, const std::string& shown, const ImplOutcome& impl,
              const model::Result& model_result, bool oom_input);
// A device DMA of `len` bytes at `iova` and its result (rc, VT-d fault reason).
void dma(const Sut& sut, model::Bdf bdf, uint64_t iova, uint64_t len, bool write, Retcode rc,
         uint8_t fault);

}  // namespace kniommu::conformance::trace
