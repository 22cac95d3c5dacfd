#include "hw/cpu_cache.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "vtd/phys_mem.h"

namespace kniommu::hw {

std::uint64_t CpuCache::line_mask(std::size_t off, std::size_t len) {
  if (len == 0) return 0;
  const std::size_t first = off / kLineBytes;
  const std::size_t last = (off + len - 1) / kLineBytes;
  const std::size_t n = last - first + 1;
  const std::uint64_t ones = n >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
  return ones << first;
}

void CpuCache::before_store(std::uint64_t pfn, const std::uint64_t* cpu, std::size_t off,
                            std::size_t len) {
  const std::uint64_t lines = line_mask(off, len);
  if (lines == 0) return;
  Frame& f = frames_[pfn];
  for (std::uint64_t fresh = lines & ~f.dirty; fresh != 0; fresh &= fresh - 1) {
    const auto line = static_cast<unsigned>(std::countr_zero(fresh));
    for (std::size_t w = line * kWordsPerLine; w < (line + 1) * kWordsPerLine; ++w) {
      f.memory[w] = cpu == nullptr ? 0 : vtd::load_entry(cpu, static_cast<unsigned>(w));
    }
  }
  f.dirty |= lines;
}

void CpuCache::after_store(std::uint64_t pfn, const std::uint64_t* cpu, std::size_t off,
                           std::size_t len) {
  const auto it = frames_.find(pfn);
  if (it == frames_.end()) return;
  Frame& f = it->second;
  for (std::uint64_t d = line_mask(off, len) & f.dirty; d != 0; d &= d - 1) {
    const auto line = static_cast<unsigned>(std::countr_zero(d));
    bool same = true;
    for (std::size_t w = line * kWordsPerLine; same && w < (line + 1) * kWordsPerLine; ++w) {
      same = f.memory[w] == vtd::load_entry(cpu, static_cast<unsigned>(w));
    }
    if (same) f.dirty &= ~(std::uint64_t{1} << line);
  }
  if (f.dirty == 0) frames_.erase(it);
}

unsigned CpuCache::write_back(std::uint64_t pfn, std::size_t off, std::size_t len) {
  const auto it = frames_.find(pfn);
  if (it == frames_.end()) return 0;
  const std::uint64_t lines = line_mask(off, len) & it->second.dirty;
  it->second.dirty &= ~lines;
  if (it->second.dirty == 0) frames_.erase(it);
  return static_cast<unsigned>(std::popcount(lines));
}

std::uint64_t CpuCache::memory_word(std::uint64_t pfn, unsigned idx,
                                    const std::uint64_t* cpu) const {
  const auto it = frames_.find(pfn);
  if (it != frames_.end() && ((it->second.dirty >> (idx / kWordsPerLine)) & 1) != 0) {
    return it->second.memory[idx];
  }
  return cpu == nullptr ? 0 : vtd::load_entry(cpu, idx);
}

void CpuCache::memory_bytes(std::uint64_t pfn, std::size_t off, unsigned char* dst, std::size_t len,
                            const std::uint64_t* cpu) const {
  const auto it = frames_.find(pfn);
  const Frame* f = it == frames_.end() ? nullptr : &it->second;
  while (len > 0) {
    const auto idx = static_cast<unsigned>(off / 8);
    const bool dirty = f != nullptr && ((f->dirty >> (idx / kWordsPerLine)) & 1) != 0;
    const std::uint64_t w = dirty ? f->memory[idx] : cpu == nullptr ? 0 : vtd::load_entry(cpu, idx);
    const std::size_t skip = off % 8;
    const std::size_t n = std::min(len, 8 - skip);
    std::memcpy(dst, reinterpret_cast<const unsigned char*>(&w) + skip, n);
    off += n, dst += n, len -= n;
  }
}

std::uint64_t CpuCache::dirty_lines() const {
  std::uint64_t n = 0;
  for (const auto& [pfn, f] : frames_) n += static_cast<std::uint64_t>(std::popcount(f.dirty));
  return n;
}

}  // namespace kniommu::hw
