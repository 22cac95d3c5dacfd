// Little-endian integer encoding for the snapshot file, independent of the host byte order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace kniommu::snapshot::bytes {

template <typename T>
void put(std::vector<std::uint8_t>& out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) >> (8 * i)));
  }
}

// Caller guarantees at + sizeof(T) <= in.size().
template <typename T>
T get(std::span<const std::uint8_t> in, std::size_t at) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<std::uint64_t>(in[at + i]) << (8 * i);
  }
  return static_cast<T>(value);
}

}  // namespace kniommu::snapshot::bytes
