// The firmware image QEMU boots when an outside program is the driver: 64 KiB of HLT with
// "cli; hlt; jmp back" at the x86 reset vector, so the vCPU halts forever and never touches the
// remapping unit, the devices or memory (docs/qemu-backend.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kniommu::qemu {

std::vector<std::uint8_t> halt_bios_image();

// Writes the image to `path`; false (with errno set) when the file cannot be written.
bool write_halt_bios(const std::string& path);

}  // namespace kniommu::qemu
