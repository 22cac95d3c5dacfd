// The register file of the emulated unit, QEMU style: one byte array of register contents and
// three parallel masks saying, per bit, whether software may write it (RW), whether writing 1
// clears it (RW1C), and whether it reads back as zero (write-only). Guest accesses go through
// guest_read/guest_write, which apply those semantics generically; the unit's own code uses the
// raw accessors. Side effects of particular registers are dispatched by the unit after the write.
#pragma once

#include <cstdint>
#include <vector>

namespace kniommu::hw {

class RegFile {
 public:
  explicit RegFile(std::uint32_t size);

  // Declares a register: reset value and masks (RO bits are those in none of the masks).
  void define64(std::uint32_t off, std::uint64_t value, std::uint64_t wmask, std::uint64_t w1cmask,
                std::uint64_t womask = 0);
  void define32(std::uint32_t off, std::uint32_t value, std::uint32_t wmask, std::uint32_t w1cmask,
                std::uint32_t womask = 0);

  // Software view. `len` is 4 or 8; accesses outside the file read 0 / are dropped.
  std::uint64_t guest_read(std::uint32_t off, unsigned len) const;
  void guest_write(std::uint32_t off, std::uint64_t value, unsigned len);

  // Hardware view: no masks applied. Inline: the translation path reads GSTS on every request.
  std::uint64_t raw64(std::uint32_t off) const { return in_range(off, 8) ? load(csr_, off, 8) : 0; }
  std::uint32_t raw32(std::uint32_t off) const {
    return in_range(off, 4) ? static_cast<std::uint32_t>(load(csr_, off, 4)) : 0;
  }
  void set_raw64(std::uint32_t off, std::uint64_t value);
  void set_raw32(std::uint32_t off, std::uint32_t value);

  std::uint32_t size() const { return static_cast<std::uint32_t>(csr_.size()); }

 private:
  static std::uint64_t load(const std::vector<std::uint8_t>& a, std::uint32_t off, unsigned len) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < len; ++i) v |= std::uint64_t{a[off + i]} << (8 * i);  // little-endian
    return v;
  }
  void store(std::vector<std::uint8_t>& a, std::uint32_t off, std::uint64_t v, unsigned len);
  bool in_range(std::uint32_t off, unsigned len) const {
    return (len == 4 || len == 8) && off % len == 0 && off <= csr_.size() - len;
  }
  // Value, wmask, w1cmask, womask of one register.
  void define(std::uint32_t off, unsigned len, const std::uint64_t (&v)[4]);

  std::vector<std::uint8_t> csr_, wmask_, w1cmask_, womask_;
};

}  // namespace kniommu::hw
