// Simulated physical memory: the one address space that the driver-side code writes its tables
// into and that the emulated remapping unit walks and devices DMA into.
//
// Storage is sparse: 4 KiB frames are materialised lazily on first write through a two-level
// radix of frame pointers, so a machine with gigabytes of "RAM" costs only what is touched; reads
// of never-written memory return zeros. Backing storage is never released while the object lives
// (a freed frame is zeroed on its next allocation instead), so a device or walker that touches a
// freed frame reads stale-but-valid host memory: the simulator itself never has a use-after-free,
// it only *counts* them (see FrameFreeListener).
//
// The allocator is a buddy allocator with deterministic lowest-address fit, so identical runs
// produce identical physical layouts. Frame 0 is never handed out: PA 0 then always means "null"
// and a table entry pointing at 0 is a bug that shows up instead of silently aliasing.
//
// Thread safety: allocation and free take `alloc_mu_`. Word and byte accesses are lock-free and
// use relaxed atomics, so a device thread reading a frame while the driver writes a table entry in
// it is a benign race that ThreadSanitizer does not report.
//
// CPU cache (docs/emulator.md "Non-coherent page walks"): read/write/read64/write64 and the host
// pointers are the CPU's view of memory, and DMA through the bus is snooped (coherent). A remapping
// unit with ECAP.C = 0 does not snoop its table walks; it turns on the CPU-cache model, and then
// CPU stores reach *memory* (read64_memory/read_memory, the walker's view) only when their 64-byte
// lines are written back by flush_cpu_cache() or a device write to them. With the model on, stores
// take `cache_mu_` and writable host pointers are refused (a store through one could not be seen).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "hw/cpu_cache.h"
#include "vtd/phys_mem.h"

namespace kniommu::hw {

using vtd::PhysAddr;

// Told about every free before the frames return to the allocator (their contents still intact).
// The remapping unit uses it to detect frames freed while its caches or the live table tree still
// reference them. Called without any SimPhysMem lock held, once per free_frames call (n = 1) or
// chunk of up to 64 blocks of a free_blocks batch (its valid blocks, all of `order`, each once).
class FrameFreeListener {
 public:
  virtual ~FrameFreeListener() = default;
  virtual void on_frames_freed(const PhysAddr* blocks, std::size_t n, unsigned order) = 0;

 protected:
  FrameFreeListener() = default;
  FrameFreeListener(const FrameFreeListener&) = default;
  FrameFreeListener& operator=(const FrameFreeListener&) = default;
};

class SimPhysMem final : public vtd::PhysMem {
 public:
  // Largest block the buddy allocator manages: 2^18 frames = 1 GiB.
  static constexpr unsigned kMaxOrder = 18;

  // `bytes` is rounded down to whole frames; at least 2 frames (frame 0 is reserved).
  explicit SimPhysMem(std::uint64_t bytes);
  ~SimPhysMem() override;
  SimPhysMem(const SimPhysMem&) = delete;
  SimPhysMem& operator=(const SimPhysMem&) = delete;

  std::uint64_t read64(PhysAddr pa) const override;
  void write64(PhysAddr pa, std::uint64_t value) override;
  void read(PhysAddr pa, void* out, std::size_t len) const override;
  void write(PhysAddr pa, const void* in, std::size_t len) override;

  // Host pointers to frames (vtd::PhysMem): frame_for_read is nullptr for a frame never written
  // (it reads as zeros; use read64) or out of range; frame_for_write materialises the frame and
  // counts as a write of all of it for the write watch below.
  const std::uint64_t* frame_for_read(PhysAddr frame) const override;
  std::uint64_t* frame_for_write(PhysAddr frame) override;

  // --- CPU cache and non-snooping readers (see the header comment) ---
  // Turns the CPU-cache model on; call before the memory is shared between threads (the remapping
  // unit's constructor does, for ECAP.C = 0). Cannot be turned off.
  void enable_cpu_cache_model();
  bool models_cpu_cache() const { return cpu_cache_ != nullptr; }
  // clflush of every line overlapping [pa, pa + len): memory gets the CPU's content (vtd::PhysMem).
  // Counted even without the model, so tests can show who flushes.
  void flush_cpu_cache(PhysAddr pa, std::size_t len) override;
  // A snooped device write (DMA, an invalidation-wait status write): the touched lines end clean,
  // memory and CPU both hold the data (and whatever else the CPU had stored to those lines).
  void device_write(PhysAddr pa, const void* in, std::size_t len);
  // What memory holds, for a reader that does not snoop the CPU cache. Without the model these are
  // read64/read/frame_for_read; with it frame_for_memory_read is always nullptr.
  std::uint64_t read64_memory(PhysAddr pa) const {
    return cpu_cache_ == nullptr ? read64(pa) : read64_uncached(pa);
  }
  void read_memory(PhysAddr pa, void* out, std::size_t len) const;
  const std::uint64_t* frame_for_memory_read(PhysAddr frame) const {
    return cpu_cache_ == nullptr ? frame_for_read(frame) : nullptr;
  }
  std::uint64_t cache_flush_calls() const { return flush_calls_.load(std::memory_order_relaxed); }
  std::uint64_t lines_written_back() const {
    return lines_written_back_.load(std::memory_order_relaxed);
  }
  std::uint64_t dirty_lines() const;

  Retcode alloc_frames(unsigned order, PhysAddr limit, PhysAddr* out) override;
  void free_frames(PhysAddr pa, unsigned order) override;
  // Per chunk of up to 64 blocks: one lock to check it, one listener call, one lock to release
  // it. Each block is checked as free_frames checks it (a bad one is counted and skipped; a block
  // twice in the batch is a double free the second time).
  void free_blocks(const PhysAddr* blocks, std::size_t n, unsigned order) override;

  // One listener (the remapping unit); nullptr removes it.
  void set_free_listener(FrameFreeListener* listener);

  // Write watch, for an observer that keeps a decoded copy of some frames (the remapping unit's
  // incremental use-after-free audit keeps one of every table reachable from the root table):
  // every write to a watched frame (write64, write, zeroing on allocation, or handing out a
  // frame_for_write pointer) logs the frame once until the log is taken. The log is taken before
  // the frame is re-read, so no write is lost.
  void set_write_watch(PhysAddr frame, bool on);
  // Moves the PFNs of watched frames written since the last call into *pfns (cleared first),
  // re-arms their watch and bumps write_epoch() (outstanding writable pointers go stale). With
  // `lines`, (*lines)[i] gets the 64-byte lines of frame (*pfns)[i] written since (bit j: bytes
  // [64j, 64j + 64)), so an observer re-reads only those; a superset, never fewer.
  void take_written_frames(std::vector<std::uint64_t>* pfns,
                           std::vector<std::uint64_t>* lines = nullptr);

  // Write generation of `frame` (4 KiB aligned), for an observer that keeps copies of what read()
  // returned (the conformance suite's hardware view, KnSimPhysFrameGeneration): non-zero, and
  // different from every value an earlier call returned for the frame whenever what read() could
  // return for any byte of it may have changed since (write64, write, device_write, zeroing on
  // allocation, a write-back, a frame_for_write hand-out); never repeated during the memory's
  // life, across free and reallocation too. 0 for an unaligned or out-of-range frame (unknown).
  // A writable host pointer could still be stored through unseen, so a call first closes them:
  // when any frame was handed out for writing since the last call, it bumps write_epoch() (every
  // holder must ask again, which counts as a new write) and gives those frames new generations.
  // Ask before reading the frame: a write after the call changes the next answer.
  std::uint64_t frame_generation(PhysAddr frame);

  std::uint64_t size_bytes() const { return frame_count_ * vtd::kPageSize; }
  bool contains(PhysAddr pa, std::uint64_t len) const {
    const std::uint64_t size = size_bytes();
    return pa <= size && len <= size - pa;
  }
  // Frames handed out and not yet freed (frame 0 excluded), and the highest value it reached.
  std::uint64_t frames_in_use() const;
  std::uint64_t peak_frames_in_use() const;
  // Caller bugs the memory absorbs instead of crashing: frees of blocks that are not allocated
  // with that order (double free, wrong order), and accesses outside the simulated range (reads
  // return zeros, writes are dropped).
  std::uint64_t bad_free_count() const;
  std::uint64_t out_of_range_access_count() const;
  // Frames that have host storage behind them (diagnostics for the sparse representation).
  std::uint64_t materialised_frames() const;

 private:
  static constexpr std::size_t kWordsPerFrame = vtd::kPageSize / 8;
  static constexpr unsigned kLeafBits = 10;  // 1024 frames (4 MiB) per leaf
  static constexpr std::size_t kLeafSize = std::size_t{1} << kLeafBits;

  struct alignas(64) Frame {
    std::uint64_t words[kWordsPerFrame];
  };
  struct Leaf {
    std::array<std::atomic<Frame*>, kLeafSize> frames{};
    std::array<std::atomic<std::uint8_t>, kLeafSize> watch{};  // kWatched | kWritten
    // Lines of a watched frame written since its log was last taken (set before kWritten).
    std::array<std::atomic<std::uint64_t>, kLeafSize> lines{};
    // Write generation (frame_generation): 0 when the frame may have been written since the last
    // query (every write path stores 0, one release store), else what that query assigned.
    std::array<std::atomic<std::uint64_t>, kLeafSize> generation{};
  };
  static constexpr std::uint64_t kAllLines = ~std::uint64_t{0};
  // The 64-byte lines of a frame that bytes [off, off + len) (inside the frame) touch.
  static std::uint64_t lines_of(std::size_t off, std::size_t len) {
    if (len == 0) return 0;
    const std::size_t first = off / 64;
    const std::size_t last = (off + len - 1) / 64;
    const std::uint64_t upto = last == 63 ? kAllLines : (std::uint64_t{2} << last) - 1;
    return upto & ~((std::uint64_t{1} << first) - 1);
  }
  static constexpr std::uint8_t kWatched = 1;
  static constexpr std::uint8_t kWritten = 2;
  // In the watch byte too: handed out by frame_for_write since the last close_writable_frames.
  static constexpr std::uint8_t kWritable = 4;

  // Host storage for frames outlives the SimPhysMem that used it: a process-wide pool of up to
  // kPooledFrames frames, so the next memory (the conformance suite builds one per case) reuses
  // storage already mapped instead of page-faulting fresh pages in. A pooled frame is zeroed when
  // taken, before it is published. Not under AddressSanitizer: there a host pointer kept past
  // its memory's end must still be reported as a heap use-after-free, not read a recycled frame.
#if defined(__SANITIZE_ADDRESS__)
  static constexpr std::size_t kPooledFrames = 0;
#else
  static constexpr std::size_t kPooledFrames = 4096;  // 16 MiB
#endif
  static Frame* new_frame();
  static void recycle_frame(Frame* f);
  // nullptr when the frame was never written (reads as zeros).
  Frame* frame_if_present(std::uint64_t pfn) const;
  Leaf* leaf_for_write(std::uint64_t pfn);
  Frame* materialise(std::uint64_t pfn);
  // After a store into frame `pfn` (whose leaf is `leaf`): log it when watched.
  void note_write(Leaf* leaf, std::uint64_t pfn, std::uint64_t lines);
  void zero_frame(std::uint64_t pfn);
  // frame_generation's first step: revokes the writable pointers handed out since the last call.
  void close_writable_frames();
  void note_out_of_range() const;
  // A CPU store to bytes [off, off + len) of frame `f` (pfn `pfn`), done by `store()`: with the
  // CPU-cache model, under cache_mu_ and recorded in the cache.
  template <class Store>
  void cpu_store(std::uint64_t pfn, Frame* f, std::size_t off, std::size_t len, Store&& store);
  std::uint64_t read64_uncached(PhysAddr pa) const;
  // read() and read_memory() (`uncached`: past the CPU cache).
  void load(PhysAddr pa, void* out, std::size_t len, bool uncached) const;
  // write() (a CPU store) and device_write() (`snooped`).
  void store(PhysAddr pa, const void* in, std::size_t len, bool snooped);
  // Allocator internals, called with alloc_mu_ held.
  bool take_block(unsigned order, std::uint64_t limit_pfn, std::uint64_t* pfn);
  void release_block(std::uint64_t pfn, unsigned order);

  // The set of free block starts of one order, as block indices (PFN >> order): a bitmap whose
  // 64-word pages are allocated on first use (a large, mostly untouched memory costs little) and
  // two summary levels (bit i: word i of the level below is non-zero), so the lowest member is
  // three count-trailing-zeros away and no operation allocates once its page exists.
  class BlockSet {
   public:
    explicit BlockSet(std::uint64_t blocks);
    void insert(std::uint64_t b);
    // False when `b` was not in the set.
    bool erase(std::uint64_t b);
    bool empty() const { return count_ == 0; }
    // Requires !empty(). Remembered until the lowest member is erased (take_block asks every
    // order for it on every allocation).
    std::uint64_t lowest() const {
      if (!lowest_known_) lowest_ = find_lowest(), lowest_known_ = true;
      return lowest_;
    }

   private:
    std::uint64_t find_lowest() const;
    mutable std::uint64_t lowest_ = 0;
    mutable bool lowest_known_ = false;
    static constexpr unsigned kPageBits = 12;  // 4096 blocks (64 words) per page
    std::vector<std::unique_ptr<std::uint64_t[]>> pages_;
    std::vector<std::uint64_t> l1_;  // bit w: word w of the pages is non-zero
    std::vector<std::uint64_t> l2_;  // bit i: l1_[i] is non-zero
    std::uint64_t count_ = 0;
  };
  // Order + 1 of every allocated block at its start PFN, 0 elsewhere; pages of 4096 frames
  // allocated on first use.
  class BlockOrders {
   public:
    explicit BlockOrders(std::uint64_t frames) : pages_((frames >> kPageBits) + 1) {}
    // kNone when no block starts at `pfn`.
    static constexpr unsigned kNone = ~0u;
    unsigned get(std::uint64_t pfn) const {
      const auto& page = pages_[pfn >> kPageBits];
      return page == nullptr ? kNone : static_cast<unsigned>(page[pfn & kPageMask]) - 1;
    }
    void set(std::uint64_t pfn, unsigned order);
    void clear(std::uint64_t pfn) { pages_[pfn >> kPageBits][pfn & kPageMask] = 0; }

   private:
    static constexpr unsigned kPageBits = 12;
    static constexpr std::uint64_t kPageMask = (std::uint64_t{1} << kPageBits) - 1;
    std::vector<std::unique_ptr<std::uint8_t[]>> pages_;
  };

  const std::uint64_t frame_count_;
  std::vector<std::atomic<Leaf*>> leaves_;
  mutable std::atomic<std::uint64_t> out_of_range_{0};
  std::atomic<std::uint64_t> materialised_{0};

  mutable std::mutex alloc_mu_;
  std::vector<BlockSet> free_;  // per order: the free blocks (block index = start PFN >> order)
  // Per order: the start PFN of its lowest free block, kNoBlock when it has none; kept next to
  // each other so that take_block's scan of all orders reads a few cache lines, not 19 BlockSets.
  static constexpr std::uint64_t kNoBlock = ~std::uint64_t{0};
  std::array<std::uint64_t, kMaxOrder + 1> lowest_free_{};
  void update_lowest_free(unsigned order) {
    lowest_free_[order] = free_[order].empty() ? kNoBlock : free_[order].lowest() << order;
  }
  BlockOrders allocated_;       // start PFN -> order of the blocks handed out
  std::uint64_t in_use_ = 0;
  std::uint64_t peak_ = 0;
  std::uint64_t bad_frees_ = 0;
  FrameFreeListener* listener_ = nullptr;

  std::mutex written_mu_;  // guards written_ (taken only when a watched frame is first written)
  std::vector<std::uint64_t> written_;

  // Write generations: the last value handed out, and the frames handed out by frame_for_write
  // since the last close_writable_frames (guarded by writable_mu_; the flag lets a query skip the
  // lock when there are none).
  std::atomic<std::uint64_t> last_generation_{0};
  std::mutex writable_mu_;
  std::vector<std::uint64_t> writable_;
  std::atomic<bool> any_writable_{false};

  // Set once before concurrent use; nullptr: no CPU-cache model (every reader snoops).
  std::unique_ptr<CpuCache> cpu_cache_;
  mutable std::mutex cache_mu_;  // guards *cpu_cache_ and orders stores with uncached reads
  std::atomic<std::uint64_t> flush_calls_{0};
  std::atomic<std::uint64_t> lines_written_back_{0};
};

}  // namespace kniommu::hw
