// The CPU's write-back data cache as seen by a remapping unit that does not snoop it (ECAP.C = 0,
// VT-d spec §10.4.3): what *memory* holds for each 64-byte line the CPU has stored to but not yet
// written back. SimPhysMem's frames hold what the CPU sees (its own stores, always); a line listed
// here is dirty, and memory still holds the copy kept here until the line is written back (clflush,
// or a snooped device write to it). The strictest legal cache: a dirty line is never evicted on its
// own, so a store the driver forgot to flush stays invisible to the walker for ever.
//
// Only what differs is kept: a line whose CPU content equals memory's is clean (a store of the
// value already there, zeroing a zero frame), so buffers that are never walked cost little.
// Not thread-safe: SimPhysMem guards it with its own mutex.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace kniommu::hw {

class CpuCache {
 public:
  static constexpr std::size_t kLineBytes = 64;  // clflush granularity on x86
  static constexpr std::size_t kWordsPerLine = kLineBytes / 8;
  static constexpr std::size_t kWordsPerFrame = 512;

  // Before the CPU stores to bytes [off, off + len) of frame `pfn` (within the frame), whose
  // current CPU-visible words are `cpu`: remembers, for every line of the range that is clean,
  // what memory holds (= the CPU's current content).
  void before_store(std::uint64_t pfn, const std::uint64_t* cpu, std::size_t off, std::size_t len);
  // After that store: lines of the range whose CPU content equals memory's again are clean.
  void after_store(std::uint64_t pfn, const std::uint64_t* cpu, std::size_t off, std::size_t len);
  // Write-back of the lines overlapping [off, off + len) of frame `pfn`: memory now holds the CPU's
  // content. Returns how many lines were dirty.
  unsigned write_back(std::uint64_t pfn, std::size_t off, std::size_t len);

  // What memory holds at word `idx` of frame `pfn`, whose CPU-visible words are `cpu` (nullptr: a
  // frame never written, all zeros).
  std::uint64_t memory_word(std::uint64_t pfn, unsigned idx, const std::uint64_t* cpu) const;
  // The same for bytes [off, off + len) of the frame, into `dst`.
  void memory_bytes(std::uint64_t pfn, std::size_t off, unsigned char* dst, std::size_t len,
                    const std::uint64_t* cpu) const;

  // Dirty lines over all frames (tests, diagnostics).
  std::uint64_t dirty_lines() const;

 private:
  struct Frame {
    std::uint64_t dirty = 0;                             // bit i: line i differs from memory
    std::array<std::uint64_t, kWordsPerFrame> memory{};  // valid in the dirty lines only
  };
  static std::uint64_t line_mask(std::size_t off, std::size_t len);

  std::unordered_map<std::uint64_t, Frame> frames_;  // only frames with a dirty line
};

}  // namespace kniommu::hw
