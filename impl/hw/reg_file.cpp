#include "hw/reg_file.h"

namespace kniommu::hw {

RegFile::RegFile(std::uint32_t size) : csr_(size), wmask_(size), w1cmask_(size), womask_(size) {}

void RegFile::store(std::vector<std::uint8_t>& a, std::uint32_t off, std::uint64_t v,
                    unsigned len) {
  for (unsigned i = 0; i < len; ++i) a[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

void RegFile::define(std::uint32_t off, unsigned len, const std::uint64_t (&v)[4]) {
  store(csr_, off, v[0], len);
  store(wmask_, off, v[1], len);
  store(w1cmask_, off, v[2], len);
  store(womask_, off, v[3], len);
}

void RegFile::define64(std::uint32_t off, std::uint64_t value, std::uint64_t wmask,
                       std::uint64_t w1cmask, std::uint64_t womask) {
  define(off, 8, {value, wmask, w1cmask, womask});
}

void RegFile::define32(std::uint32_t off, std::uint32_t value, std::uint32_t wmask,
                       std::uint32_t w1cmask, std::uint32_t womask) {
  define(off, 4, {value, wmask, w1cmask, womask});
}

std::uint64_t RegFile::guest_read(std::uint32_t off, unsigned len) const {
  if (!in_range(off, len)) return 0;
  return load(csr_, off, len) & ~load(womask_, off, len);
}

void RegFile::guest_write(std::uint32_t off, std::uint64_t value, unsigned len) {
  if (!in_range(off, len)) return;
  const std::uint64_t old = load(csr_, off, len);
  const std::uint64_t w = load(wmask_, off, len);
  const std::uint64_t w1c = load(w1cmask_, off, len);
  store(csr_, off, ((old & ~w) | (value & w)) & ~(value & w1c), len);
}

void RegFile::set_raw64(std::uint32_t off, std::uint64_t value) {
  if (in_range(off, 8)) store(csr_, off, value, 8);
}
void RegFile::set_raw32(std::uint32_t off, std::uint32_t value) {
  if (in_range(off, 4)) store(csr_, off, value, 4);
}

}  // namespace kniommu::hw
