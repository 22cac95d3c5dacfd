// kos::Hardware over one QEMU process (impl/qemu) (docs/qemu-backend.md): physical memory and the
// remapping unit's registers through qtest, device DMA through one edu device per BDF, faults from
// FSTS/FRCD. Frames are allocated by the same buddy allocator as the emulator's memory, so a
// driver run on either backend lays its tables out at the same physical addresses.
//
// What it cannot show (and so reports as unavailable): a cache snapshot, a use-after-free count,
// and the bytes of a device read (edu keeps them in its buffer; they become visible only when the
// device writes them out again).
#pragma once

#include <memory>
#include <string>

#include "kniommu/sim.h"
#include "kos/hardware.h"

namespace kniommu::kos {

// rcInvalidArgument for a configuration QEMU does not provide (message names the field), the
// Retcodes of QtestClient::launch otherwise; *error says why.
Retcode create_qemu_hardware(const KnSimConfig& config, std::unique_ptr<Hardware>* out,
                             std::string* error);

}  // namespace kniommu::kos
