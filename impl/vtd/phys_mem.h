// The physical-memory interface the driver-side VT-d code programs through. The same code runs on
// the simulated memory of impl/hw (SimPhysMem) here and would run on a direct map in a kernel.
// Contract: no exceptions; allocation failure is reported as rcOutOfMemory; frames come zeroed.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "kniommu/retcode.h"

namespace kniommu::vtd {

using PhysAddr = std::uint64_t;
inline constexpr std::uint64_t kPageSize = 4096;
inline constexpr unsigned kPageShift = 12;

// Single-copy-atomic access to a word of a frame handed out by PhysMem::frame_for_read/write:
// a concurrent walker (another thread) never sees a torn entry, and the access is race-free.
inline std::uint64_t load_entry(const std::uint64_t* words, unsigned idx) {
  // atomic_ref needs a non-const object; the load does not modify it.
  return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(words[idx]))
      .load(std::memory_order_relaxed);
}
inline void store_entry(std::uint64_t* words, unsigned idx, std::uint64_t value) {
  std::atomic_ref<std::uint64_t>(words[idx]).store(value, std::memory_order_relaxed);
}

class PhysMem {
 public:
  virtual ~PhysMem() = default;

  // 64-bit little-endian word at an 8-byte aligned physical address. A VT-d table entry is
  // written by the driver with single 64-bit stores (the present word last), so a concurrent
  // walker never sees a torn word.
  virtual std::uint64_t read64(PhysAddr pa) const = 0;
  virtual void write64(PhysAddr pa, std::uint64_t value) = 0;

  // Byte access (buffers, descriptors' status writes). Ranges may cross frames.
  virtual void read(PhysAddr pa, void* out, std::size_t len) const = 0;
  virtual void write(PhysAddr pa, const void* in, std::size_t len) = 0;

  // 2^order physically contiguous, naturally aligned, zeroed 4 KiB frames. `limit` (exclusive) is
  // the highest usable address + 1 (e.g. 4 GiB for DMA32); 0 means no limit.
  virtual Retcode alloc_frames(unsigned order, PhysAddr limit, PhysAddr* out) = 0;
  virtual void free_frames(PhysAddr pa, unsigned order) = 0;
  // free_frames of each of the n blocks (all of `order`), in order. A backend may take the batch
  // at once (SimPhysMem: one lock and one use-after-free audit for all of them instead of one per
  // block; a 2 MiB buffer of order-0 blocks is 512 of them).
  virtual void free_blocks(const PhysAddr* blocks, std::size_t n, unsigned order) {
    for (std::size_t i = 0; i < n; ++i) free_frames(blocks[i], order);
  }

  // Direct host access to one 4 KiB frame (`frame` 4 KiB aligned), as a kernel's physical map
  // gives it: the frame's 512 words, or nullptr when the backend cannot hand out host memory (a
  // device model behind a socket, an out-of-range frame). Callers must keep a working path through
  // read64/write64 for nullptr. Words are accessed with single 64-bit atomic loads/stores (see
  // load_entry/store_entry), never torn. A read pointer stays valid while the frame stays
  // allocated. A pointer from frame_for_write() may be used for stores only while write_epoch()
  // is unchanged: a backend that tracks which frames were written (for an observer such as the
  // emulator's use-after-free audit) counts the hand-out as the write, and bumps the epoch when the
  // observer has taken the record, so the pointer must be asked for again.
  virtual const std::uint64_t* frame_for_read(PhysAddr frame) const {
    static_cast<void>(frame);
    return nullptr;
  }
  virtual std::uint64_t* frame_for_write(PhysAddr frame) {
    static_cast<void>(frame);
    return nullptr;
  }
  // Writes the CPU cache lines overlapping [pa, pa + len) back to memory, as clflush over the range
  // does (Linux clflush_cache_range). A remapping unit whose ECAP.C is 0 (VT-d spec §10.4.3) does
  // not snoop the CPU caches when it walks root, context and second-level tables, so the driver
  // calls this after every write to such a table and before the invalidation (or, for a new
  // entry, the use) that lets the unit look; it never calls it for a coherent unit. The default
  // does nothing: memory that is coherent with every reader.
  virtual void flush_cpu_cache(PhysAddr pa, std::size_t len) {
    static_cast<void>(pa);
    static_cast<void>(len);
  }

  std::uint64_t write_epoch() const {
    return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(write_epoch_))
        .load(std::memory_order_acquire);
  }

  Retcode alloc_frame(PhysAddr* out) { return alloc_frames(0, 0, out); }
  void free_frame(PhysAddr pa) { free_frames(pa, 0); }

 protected:
  // For backends that track writes: previously handed-out writable pointers are now stale.
  void bump_write_epoch() {
    std::atomic_ref<std::uint64_t>(write_epoch_).fetch_add(1, std::memory_order_acq_rel);
  }

  PhysMem() = default;
  PhysMem(const PhysMem&) = default;
  PhysMem& operator=(const PhysMem&) = default;

 private:
  std::uint64_t write_epoch_ = 0;
};

}  // namespace kniommu::vtd
