// Legacy DMA-remapping fault reasons (VT-d spec Appendix A) and the values the walk
// produces. Walk functions return one of these (kNone on success) and leave recording to the
// caller, as QEMU does.
#pragma once

#include <cstdint>

#include "vtd/sl_format.h"

namespace kniommu::hw {

enum class Fault : std::uint8_t {
  kNone = 0x0,
  kRootNotPresent = 0x1,            // LRT.2
  kContextNotPresent = 0x2,         // LCT.2
  kContextInvalid = 0x3,            // LCT.4: AW/TT unsupported, SLPTPTR unreadable
  kBeyondAddressWidth = 0x4,        // LGN.1
  kNoWrite = 0x5,                   // LGN.2 (also "not present" for writes)
  kNoRead = 0x6,                    // LGN.3 (also "not present" for reads)
  kNextTableInvalid = 0x7,          // LSL.1
  kRootTableInvalid = 0x8,          // LRT.1
  kContextTableInvalid = 0x9,       // LCT.1
  kRootReserved = 0xA,              // LRT.3
  kContextReserved = 0xB,           // LCT.3
  kSlReserved = 0xC,                // LSL.2
  kBlockedByTranslationType = 0xD,  // LCT.5
  kInterruptRange = 0xE,            // LGN.4
};

// Qualified faults are the ones a context entry's FPD suppresses (QEMU vtd_qualified_faults[]).
constexpr bool is_qualified(Fault f) {
  switch (f) {
    case Fault::kRootNotPresent:
    case Fault::kRootTableInvalid:
    case Fault::kContextTableInvalid:
    case Fault::kRootReserved:
    case Fault::kContextReserved:
    case Fault::kNone:
      return false;
    default:
      return true;
  }
}

// Permission bits as the unit tracks them: the one permission type of the shared formats
// (vtd::Perm, the SL entries' R and W bits).
using vtd::kPermRead;
using vtd::kPermWrite;

// A DMA request's kind: ordinary untranslated DMA, or an ATS-translated request (address already
// translated by a device TLB), which only TT=01 contexts accept.
enum class RequestKind : std::uint8_t { kUntranslated, kTranslated };

}  // namespace kniommu::hw
