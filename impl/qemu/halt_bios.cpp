#include "qemu/halt_bios.h"

#include <cstdio>

namespace kniommu::qemu {

std::vector<std::uint8_t> halt_bios_image() {
  constexpr std::size_t kSize = 64 * 1024;               // mapped just below 4 GiB and at 0xF0000
  constexpr std::size_t kResetVector = 0xFFF0;           // the CPU starts at F000:FFF0
  std::vector<std::uint8_t> image(kSize, 0xF4);          // hlt everywhere
  const std::uint8_t stop[] = {0xFA, 0xF4, 0xEB, 0xFD};  // cli; hlt; jmp -3 (back to hlt)
  for (std::size_t i = 0; i < sizeof stop; ++i) image[kResetVector + i] = stop[i];
  return image;
}

bool write_halt_bios(const std::string& path) {
  const std::vector<std::uint8_t> image = halt_bios_image();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(image.data(), 1, image.size(), f) == image.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace kniommu::qemu
