// The hardware half of the abstraction function: what a device could reach, rebuilt only from
// what the remapping hardware itself reads — RTADDR, then root, context and second-level tables
// in physical memory. It never consults the implementation's bookkeeping.
//
// The entry formats are decoded here from the VT-d bit positions (VT-d spec ch. 9
// §1.2-1.4) on purpose: an independent decoder, so a layout bug shared by driver and emulator
// still shows up as a discrepancy against the model.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kniommu/adapter.h"
#include "runs.h"

namespace kniommu::conformance {

struct HwDevice {
  uint16_t did = 0;
  uint64_t root = 0;    // SLPTPTR
  unsigned levels = 0;  // AW + 2
  Runs runs;            // normalized reachable translations
};

struct HwView {
  std::map<uint16_t, HwDevice> devices;  // BDF -> present context entry
  std::vector<std::string> errors;       // malformed structures (reported as discrepancies)
  std::set<uint64_t> table_pages;        // root, context and second-level tables reachable
  uint64_t leaves_2m = 0, leaves_1g = 0;  // superpage leaves seen
};

HwView read_hw_view(const KnAdapterV1& api, KnAdapterSession* session);

}  // namespace kniommu::conformance
