// Faults as software sees them: the suite's own model of the primary fault logging of the
// remapping hardware (VT-d spec §7.3.1, registers §10.4.9 FSTS and §10.4.14 FRCD), fed with the
// fault the model says each DMA probe causes, and compared with FSTS and the fault recording
// registers read through the adapter. Draining reads and clears the records (RW1C) exactly as a
// driver's fault handler does: start at FSTS.FRI, clear F of each set record, then clear PFO.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kniommu/adapter.h"

namespace kniommu::conformance {

struct ExpectedFault {
  uint16_t sid = 0;
  uint64_t page = 0;  // faulting address, page-aligned (FRCD.FI)
  uint8_t reason = 0;
  bool read = false;  // FRCD.T: 1 = read
};

class FaultLog {
 public:
  // Reads CAP (NFR, FRO). `enabled`: the session has a remapping unit and the adapter the
  // optional register entries; otherwise every check is a no-op (the caller counts it skipped).
  void init(const KnAdapterV1& api, KnAdapterSession* session, bool iommu_enabled);
  bool enabled() const { return enabled_; }

  // The hardware algorithm: a fault while PFO is set is dropped; a fault whose next record is
  // still full sets PFO and is dropped; otherwise it is recorded (FRI set if none was pending)
  // and the index advances modulo NFR + 1. Returns true when this fault overflowed.
  bool expect(const ExpectedFault& f);

  // Compares FSTS (PPF, PFO, FRI; IQE/ICE/ITE/AFO/APF clear) and every record with the
  // expectation. Appends one line per discrepancy.
  void check(const KnAdapterV1& api, KnAdapterSession* session,
             std::vector<std::string>& out) const;
  // A driver's fault handler: clears each recorded fault (F, RW1C) from FRI on, then PFO.
  void drain(const KnAdapterV1& api, KnAdapterSession* session);
  bool any_pending() const;

 private:
  bool enabled_ = false;
  unsigned records_ = 0;  // NFR + 1
  uint32_t fro_ = 0;      // byte offset of FRCD[0]
  unsigned next_ = 0;
  unsigned fri_ = 0;
  bool pfo_ = false;
  std::vector<std::optional<ExpectedFault>> slots_;
};

}  // namespace kniommu::conformance
