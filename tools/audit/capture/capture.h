// The snapshot writer for a running simulated system: reads the registers and walks the tables
// from the root table through the simulation harness (kniommu/sim.h: KnSimReadReg64 and
// KnSimPhysRead only), saving exactly the pages the remapping unit could walk. What the hardware
// cannot know — which process owns which domain and buffer — is metadata the caller adds (see
// metadata.h for helpers that build it from the C API).
#pragma once

#include <cstdint>
#include <optional>

#include "kniommu/sim.h"
#include "snapshot/format.h"

namespace kniommu::snapshot {

// Fills out.regs and out.pages; leaves the metadata fields untouched. The system should be quiet
// (no concurrent Kn* calls) for the snapshot to be consistent. A table page that cannot be read
// is left out, and the audit reports it as missing.
Retcode capture(KnSimSystem* system, Snapshot& out);

// The DID in the present context entry of `bdf` in a captured snapshot, if the device is attached.
std::optional<std::uint16_t> attached_did(const Snapshot& snapshot, std::uint16_t bdf);

}  // namespace kniommu::snapshot
