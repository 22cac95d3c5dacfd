#include "hw/sim_phys_mem.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "common/failpoint.h"

namespace kniommu::hw {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

std::uint64_t load_word(const std::uint64_t& w) {
  // atomic_ref needs a non-const object; the load does not modify it.
  return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(w)).load(kRelaxed);
}
void store_word(std::uint64_t& w, std::uint64_t v) {
  std::atomic_ref<std::uint64_t>(w).store(v, kRelaxed);
}
unsigned char load_byte(const unsigned char& b) {
  return std::atomic_ref<unsigned char>(const_cast<unsigned char&>(b)).load(kRelaxed);
}
void store_byte(unsigned char& b, unsigned char v) {
  std::atomic_ref<unsigned char>(b).store(v, kRelaxed);
}

// Copies within one frame, every access atomic so concurrent word accesses by other threads are
// race-free: bytes up to the first aligned word, then whole words, then the bytes left.
//
// The word run is the hot path (the conformance suite's walker reads every 4 KiB table through
// here): relaxed loads and stores of plain words that the compiler can neither merge nor
// vectorise, so the loop is unrolled by hand to keep the loads back to back (about 5x a loop
// that tests alignment per word). A plain memcpy would be faster still but is a data race with a
// device or driver thread storing into the frame (atomically) at the same time.
void copy_from_frame(const std::uint64_t* words, std::size_t off, unsigned char* dst,
                     std::size_t len) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(words);
  for (; len > 0 && off % 8 != 0; ++off, ++dst, --len) *dst = load_byte(bytes[off]);
  const std::uint64_t* src = words + off / 8;
  const std::size_t n = len / 8;
  // The tables the suite re-reads are mostly out of cache by the time it reads them again:
  // requesting every line first lets the misses overlap (a prefetch is not an access, so it cannot
  // race). bench/hw_bench BM_PhysReadFrame: 4096 frames about 1.5x faster, 1 frame 1.2x slower.
  for (std::size_t i = 0; i < n; i += 8) __builtin_prefetch(src + i);
#pragma GCC unroll 8
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t v = load_word(src[i]);
    std::memcpy(dst + 8 * i, &v, 8);  // `dst` may be unaligned
  }
  off += 8 * n, dst += 8 * n, len -= 8 * n;
  for (; len > 0; ++off, ++dst, --len) *dst = load_byte(bytes[off]);
}

void copy_to_frame(std::uint64_t* words, std::size_t off, const unsigned char* src,
                   std::size_t len) {
  auto* bytes = reinterpret_cast<unsigned char*>(words);
  for (; len > 0 && off % 8 != 0; ++off, ++src, --len) store_byte(bytes[off], *src);
  std::uint64_t* dst = words + off / 8;
  const std::size_t n = len / 8;
#pragma GCC unroll 8
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t v;
    std::memcpy(&v, src + 8 * i, 8);
    store_word(dst[i], v);
  }
  off += 8 * n, src += 8 * n, len -= 8 * n;
  for (; len > 0; ++off, ++src, --len) store_byte(bytes[off], *src);
}

// Calls fn(pfn, offset, length) for each piece of [pa, pa + len) that lies within one frame.
template <class Fn>
void for_each_piece(PhysAddr pa, std::size_t len, Fn&& fn) {
  while (len > 0) {
    const std::size_t off = pa % vtd::kPageSize;
    const std::size_t n = std::min<std::size_t>(len, vtd::kPageSize - off);
    fn(pa >> vtd::kPageShift, off, n);
    pa += n, len -= n;
  }
}

}  // namespace

SimPhysMem::BlockSet::BlockSet(std::uint64_t blocks)
    : pages_((blocks >> kPageBits) + 1), l1_((blocks >> 12) + 1, 0), l2_((blocks >> 18) + 1, 0) {}

void SimPhysMem::BlockSet::insert(std::uint64_t b) {
  auto& page = pages_[b >> kPageBits];
  if (page == nullptr) page = std::make_unique<std::uint64_t[]>(64);  // zeroed
  std::uint64_t& word = page[(b >> 6) & 63];
  const std::uint64_t bit = std::uint64_t{1} << (b & 63);
  if ((word & bit) != 0) return;
  if (word == 0) {
    const std::uint64_t w = b >> 6;  // word index over all pages
    if (l1_[w >> 6] == 0) l2_[w >> 12] |= std::uint64_t{1} << ((w >> 6) & 63);
    l1_[w >> 6] |= std::uint64_t{1} << (w & 63);
  }
  word |= bit;
  ++count_;
  if (lowest_known_ && b < lowest_) lowest_ = b;
}

bool SimPhysMem::BlockSet::erase(std::uint64_t b) {
  auto& page = pages_[b >> kPageBits];
  if (page == nullptr) return false;
  std::uint64_t& word = page[(b >> 6) & 63];
  const std::uint64_t bit = std::uint64_t{1} << (b & 63);
  if ((word & bit) == 0) return false;
  word &= ~bit;
  --count_;
  if (b == lowest_) lowest_known_ = false;
  if (word == 0) {
    const std::uint64_t w = b >> 6;
    l1_[w >> 6] &= ~(std::uint64_t{1} << (w & 63));
    if (l1_[w >> 6] == 0) l2_[w >> 12] &= ~(std::uint64_t{1} << ((w >> 6) & 63));
  }
  return true;
}

std::uint64_t SimPhysMem::BlockSet::find_lowest() const {
  std::size_t i = 0;
  while (l2_[i] == 0) ++i;  // at most blocks / 2^24 words; never past the end while !empty()
  const std::uint64_t l1 = (i << 6) + static_cast<unsigned>(std::countr_zero(l2_[i]));
  const std::uint64_t w = (l1 << 6) + static_cast<unsigned>(std::countr_zero(l1_[l1]));
  const std::uint64_t word = pages_[w >> 6][w & 63];
  return (w << 6) + static_cast<unsigned>(std::countr_zero(word));
}

void SimPhysMem::BlockOrders::set(std::uint64_t pfn, unsigned order) {
  auto& page = pages_[pfn >> kPageBits];
  if (page == nullptr) page = std::make_unique<std::uint8_t[]>(std::size_t{1} << kPageBits);
  page[pfn & kPageMask] = static_cast<std::uint8_t>(order + 1);
}

SimPhysMem::SimPhysMem(std::uint64_t bytes)
    : frame_count_(std::max<std::uint64_t>(bytes / vtd::kPageSize, 2)),
      leaves_((frame_count_ + kLeafSize - 1) / kLeafSize),
      allocated_(frame_count_) {
  free_.reserve(kMaxOrder + 1);
  for (unsigned o = 0; o <= kMaxOrder; ++o) free_.emplace_back(frame_count_ >> o);
  // Seed the free lists with the largest naturally aligned blocks covering [1, frame_count_);
  // frame 0 stays reserved forever.
  std::uint64_t pfn = 1;
  while (pfn < frame_count_) {
    unsigned order = 0;
    while (order < kMaxOrder && pfn % (std::uint64_t{2} << order) == 0 &&
           pfn + (std::uint64_t{2} << order) <= frame_count_) {
      ++order;
    }
    free_[order].insert(pfn >> order);
    pfn += std::uint64_t{1} << order;
  }
  for (unsigned o = 0; o <= kMaxOrder; ++o) update_lowest_free(o);
}

SimPhysMem::~SimPhysMem() {
  for (auto& leaf_slot : leaves_) {
    Leaf* leaf = leaf_slot.load(kRelaxed);
    if (leaf == nullptr) continue;
    for (auto& f : leaf->frames) {
      if (Frame* frame = f.load(kRelaxed); frame != nullptr) recycle_frame(frame);
    }
    delete leaf;
  }
}

namespace {
// The pool behind SimPhysMem::new_frame/recycle_frame. Never destroyed (a SimPhysMem may be
// destroyed during static destruction); the frames it holds stay reachable from it.
struct FramePoolState {
  std::mutex mu;
  std::vector<void*> frames;
};
FramePoolState& frame_pool() {
  static auto* pool = new FramePoolState();
  return *pool;
}
}  // namespace

SimPhysMem::Frame* SimPhysMem::new_frame() {
  FramePoolState& pool = frame_pool();
  Frame* f = nullptr;
  {
    std::lock_guard lock(pool.mu);
    if (!pool.frames.empty()) {
      f = static_cast<Frame*>(pool.frames.back());
      pool.frames.pop_back();
    }
  }
  if (f == nullptr) return new Frame();  // value-initialised: zeros
  // No other thread can see `f` (the mutex ordered its last use before this), so a plain memset
  // is race-free; the caller publishes it with a release CAS.
  std::memset(f->words, 0, sizeof f->words);
  return f;
}

void SimPhysMem::recycle_frame(Frame* f) {
  FramePoolState& pool = frame_pool();
  {
    std::lock_guard lock(pool.mu);
    if (pool.frames.size() < kPooledFrames) {
      if (pool.frames.capacity() == 0) pool.frames.reserve(kPooledFrames);
      pool.frames.push_back(f);
      return;
    }
  }
  delete f;
}

void SimPhysMem::note_out_of_range() const { out_of_range_.fetch_add(1, kRelaxed); }

SimPhysMem::Frame* SimPhysMem::frame_if_present(std::uint64_t pfn) const {
  const Leaf* leaf = leaves_[pfn >> kLeafBits].load(std::memory_order_acquire);
  if (leaf == nullptr) return nullptr;
  return leaf->frames[pfn & (kLeafSize - 1)].load(std::memory_order_acquire);
}

SimPhysMem::Leaf* SimPhysMem::leaf_for_write(std::uint64_t pfn) {
  // Lock-free lazy materialisation: racing writers each build a candidate, one wins the CAS.
  auto& leaf_slot = leaves_[pfn >> kLeafBits];
  Leaf* leaf = leaf_slot.load(std::memory_order_acquire);
  if (leaf == nullptr) {
    auto* fresh = new Leaf();
    if (leaf_slot.compare_exchange_strong(leaf, fresh, std::memory_order_acq_rel)) {
      leaf = fresh;
    } else {
      delete fresh;  // `leaf` now holds the winner
    }
  }
  return leaf;
}

SimPhysMem::Frame* SimPhysMem::materialise(std::uint64_t pfn) {
  Leaf* leaf = leaf_for_write(pfn);
  auto& frame_slot = leaf->frames[pfn & (kLeafSize - 1)];
  Frame* frame = frame_slot.load(std::memory_order_acquire);
  if (frame == nullptr) {
    Frame* fresh = new_frame();  // zeros
    if (frame_slot.compare_exchange_strong(frame, fresh, std::memory_order_acq_rel)) {
      frame = fresh;
      materialised_.fetch_add(1, kRelaxed);
    } else {
      recycle_frame(fresh);
    }
  }
  return frame;
}

void SimPhysMem::note_write(Leaf* leaf, std::uint64_t pfn, std::uint64_t lines) {
  // After the store (a query that sees this 0 and then reads the frame sees the store: release,
  // a plain store on x86), so no write can hide behind a generation assigned before it landed.
  leaf->generation[pfn & (kLeafSize - 1)].store(0, std::memory_order_release);
  auto& flags = leaf->watch[pfn & (kLeafSize - 1)];
  if ((flags.load(kRelaxed) & kWatched) == 0) return;  // the common case: one relaxed load
  // The store came first, then its lines, then kWritten; the audit clears kWritten before it
  // takes the lines and re-reads, so either it sees this store's lines (and the store) or the
  // frame is logged again with them.
  leaf->lines[pfn & (kLeafSize - 1)].fetch_or(lines);
  if ((flags.fetch_or(kWritten) & kWritten) != 0) return;
  std::lock_guard lock(written_mu_);
  written_.push_back(pfn);
}

template <class Store>
void SimPhysMem::cpu_store(std::uint64_t pfn, Frame* f, std::size_t off, std::size_t len,
                           Store&& store) {
  if (cpu_cache_ == nullptr) {
    store();
    return;
  }
  // Under the lock, so an uncached reader sees either the line before the store or its record.
  std::lock_guard lock(cache_mu_);
  cpu_cache_->before_store(pfn, f->words, off, len);
  store();
  cpu_cache_->after_store(pfn, f->words, off, len);
}

void SimPhysMem::zero_frame(std::uint64_t pfn) {
  Frame* f = frame_if_present(pfn);
  if (f == nullptr) return;  // never written: already reads as zeros
  // The allocator's zeroing is a CPU store like any other: with ECAP.C = 0 the walker still sees
  // the frame's old bytes until the new owner flushes it.
  cpu_store(pfn, f, 0, vtd::kPageSize, [f] {
#pragma GCC unroll 8
    for (auto& w : f->words) store_word(w, 0);
  });
  note_write(leaves_[pfn >> kLeafBits].load(std::memory_order_acquire), pfn, kAllLines);
}

const std::uint64_t* SimPhysMem::frame_for_read(PhysAddr frame) const {
  if (frame % vtd::kPageSize != 0 || !contains(frame, vtd::kPageSize)) return nullptr;
  const Frame* f = frame_if_present(frame >> vtd::kPageShift);
  return f == nullptr ? nullptr : f->words;
}

std::uint64_t* SimPhysMem::frame_for_write(PhysAddr frame) {
  // With the CPU-cache model a store through a host pointer would bypass it: callers take the
  // write64/write path instead (the PhysMem contract allows nullptr).
  if (cpu_cache_ != nullptr) return nullptr;
  if (frame % vtd::kPageSize != 0 || !contains(frame, vtd::kPageSize)) return nullptr;
  const std::uint64_t pfn = frame >> vtd::kPageShift;
  Frame* f = materialise(pfn);
  // The holder may store anywhere in the frame.
  Leaf* leaf = leaves_[pfn >> kLeafBits].load(std::memory_order_acquire);
  note_write(leaf, pfn, kAllLines);
  // Stores through the pointer are unseen: the next generation query must revoke it.
  if ((leaf->watch[pfn & (kLeafSize - 1)].fetch_or(kWritable) & kWritable) == 0) {
    std::lock_guard lock(writable_mu_);
    writable_.push_back(pfn);
    any_writable_.store(true, std::memory_order_release);
  }
  return f->words;
}

void SimPhysMem::close_writable_frames() {
  if (!any_writable_.load(std::memory_order_acquire)) return;  // the common case
  std::vector<std::uint64_t> pfns;
  {
    std::lock_guard lock(writable_mu_);
    pfns.swap(writable_);
    any_writable_.store(false, std::memory_order_relaxed);
  }
  // kWritable first, then the epoch: a frame handed out after its bit is cleared is listed again
  // (for the next query); one handed out before was handed out at the old epoch, stale below.
  for (const std::uint64_t pfn : pfns) {
    leaves_[pfn >> kLeafBits].load(std::memory_order_acquire)->watch[pfn & (kLeafSize - 1)]
        .fetch_and(static_cast<std::uint8_t>(~kWritable));
  }
  bump_write_epoch();
  // What was stored through the revoked pointers is in the frames now: new generations.
  for (const std::uint64_t pfn : pfns) {
    leaves_[pfn >> kLeafBits].load(std::memory_order_acquire)->generation[pfn & (kLeafSize - 1)]
        .store(0, std::memory_order_release);
  }
}

std::uint64_t SimPhysMem::frame_generation(PhysAddr frame) {
  if (frame % vtd::kPageSize != 0 || !contains(frame, vtd::kPageSize)) return 0;
  close_writable_frames();
  const std::uint64_t pfn = frame >> vtd::kPageShift;
  // A frame never written has a leaf only when a neighbour was written; its generation needs one.
  auto& gen = leaf_for_write(pfn)->generation[pfn & (kLeafSize - 1)];
  std::uint64_t cur = gen.load(std::memory_order_acquire);
  while (cur == 0) {  // written since the last query (or never asked): a value never used before
    const std::uint64_t fresh = last_generation_.fetch_add(1, kRelaxed) + 1;
    // Fails when a writer stored 0 again (retry) or another query assigned one (take it).
    if (gen.compare_exchange_weak(cur, fresh, std::memory_order_acq_rel,
                                  std::memory_order_acquire))
      return fresh;
  }
  return cur;
}

void SimPhysMem::set_write_watch(PhysAddr frame, bool on) {
  if (!contains(frame, 1)) return;
  const std::uint64_t pfn = frame >> vtd::kPageShift;
  auto& flags = leaf_for_write(pfn)->watch[pfn & (kLeafSize - 1)];
  if (on) {
    flags.fetch_or(kWatched);
  } else {
    flags.fetch_and(static_cast<std::uint8_t>(~kWatched));
  }
}

void SimPhysMem::take_written_frames(std::vector<std::uint64_t>* pfns,
                                     std::vector<std::uint64_t>* lines) {
  pfns->clear();
  {
    std::lock_guard lock(written_mu_);
    pfns->swap(written_);
  }
  if (lines != nullptr) lines->clear();
  for (const std::uint64_t pfn : *pfns) {
    Leaf* leaf = leaves_[pfn >> kLeafBits].load(std::memory_order_acquire);
    // kWritten first, then the lines (the reverse of note_write): a line set after this exchange
    // belongs to a write that logs the frame again.
    leaf->watch[pfn & (kLeafSize - 1)].fetch_and(static_cast<std::uint8_t>(~kWritten));
    const std::uint64_t l = leaf->lines[pfn & (kLeafSize - 1)].exchange(0);
    if (lines != nullptr) lines->push_back(l);
  }
  // Writable pointers handed out so far were logged as writes already; further stores through
  // them must be logged again, so their holders have to ask anew.
  bump_write_epoch();
}

std::uint64_t SimPhysMem::read64(PhysAddr pa) const {
  if (pa % 8 != 0) {
    std::uint64_t v = 0;
    read(pa, &v, 8);
    return v;
  }
  if (!contains(pa, 8)) {
    note_out_of_range();
    return 0;
  }
  const Frame* f = frame_if_present(pa >> vtd::kPageShift);
  return f == nullptr ? 0 : load_word(f->words[(pa % vtd::kPageSize) / 8]);
}

void SimPhysMem::write64(PhysAddr pa, std::uint64_t value) {
  if (pa % 8 != 0) {
    write(pa, &value, 8);
    return;
  }
  if (!contains(pa, 8)) {
    note_out_of_range();
    return;
  }
  const std::uint64_t pfn = pa >> vtd::kPageShift;
  Frame* f = materialise(pfn);
  const std::size_t off = pa % vtd::kPageSize;
  if (cpu_cache_ == nullptr) {
    store_word(f->words[off / 8], value);
  } else {
    cpu_store(pfn, f, off, 8, [&] { store_word(f->words[off / 8], value); });
  }
  note_write(leaves_[pfn >> kLeafBits].load(std::memory_order_acquire), pfn, lines_of(off, 8));
}

void SimPhysMem::read(PhysAddr pa, void* out, std::size_t len) const { load(pa, out, len, false); }

void SimPhysMem::read_memory(PhysAddr pa, void* out, std::size_t len) const {
  load(pa, out, len, cpu_cache_ != nullptr);
}

void SimPhysMem::load(PhysAddr pa, void* out, std::size_t len, bool uncached) const {
  auto* dst = static_cast<unsigned char*>(out);
  if (!contains(pa, len)) {
    note_out_of_range();
    std::memset(dst, 0, len);
    return;
  }
  for_each_piece(pa, len, [&](std::uint64_t pfn, std::size_t off, std::size_t n) {
    const Frame* f = frame_if_present(pfn);
    if (uncached) {
      std::lock_guard lock(cache_mu_);
      cpu_cache_->memory_bytes(pfn, off, dst, n, f == nullptr ? nullptr : f->words);
    } else if (f == nullptr) {
      std::memset(dst, 0, n);
    } else {
      copy_from_frame(f->words, off, dst, n);
    }
    dst += n;
  });
}

void SimPhysMem::write(PhysAddr pa, const void* in, std::size_t len) { store(pa, in, len, false); }

void SimPhysMem::device_write(PhysAddr pa, const void* in, std::size_t len) {
  store(pa, in, len, true);
}

void SimPhysMem::store(PhysAddr pa, const void* in, std::size_t len, bool snooped) {
  const auto* src = static_cast<const unsigned char*>(in);
  if (!contains(pa, len)) {
    note_out_of_range();
    return;
  }
  for_each_piece(pa, len, [&](std::uint64_t pfn, std::size_t off, std::size_t n) {
    Frame* f = materialise(pfn);
    // One copy for every case (so that it stays inlined): with the CPU-cache model under the lock,
    // a CPU store recorded in the cache, a device write snooping (the lines it touches are written
    // back, the bytes land in memory and cache).
    std::unique_lock lock(cache_mu_, std::defer_lock);
    if (cpu_cache_ != nullptr) {
      lock.lock();
      if (!snooped) cpu_cache_->before_store(pfn, f->words, off, n);
    }
    copy_to_frame(f->words, off, src, n);
    if (cpu_cache_ != nullptr) {
      if (snooped) {
        cpu_cache_->write_back(pfn, off, n);
      } else {
        cpu_cache_->after_store(pfn, f->words, off, n);
      }
      lock.unlock();
    }
    note_write(leaves_[pfn >> kLeafBits].load(std::memory_order_acquire), pfn, lines_of(off, n));
    src += n;
  });
}

void SimPhysMem::enable_cpu_cache_model() {
  if (cpu_cache_ == nullptr) cpu_cache_ = std::make_unique<CpuCache>();
}

void SimPhysMem::flush_cpu_cache(PhysAddr pa, std::size_t len) {
  flush_calls_.fetch_add(1, kRelaxed);
  if (cpu_cache_ == nullptr || len == 0) return;
  if (!contains(pa, len)) {
    note_out_of_range();
    return;
  }
  for_each_piece(pa, len, [&](std::uint64_t pfn, std::size_t off, std::size_t n) {
    unsigned lines = 0;
    {
      std::lock_guard lock(cache_mu_);
      lines = cpu_cache_->write_back(pfn, off, n);
    }
    if (lines != 0) {
      lines_written_back_.fetch_add(lines, kRelaxed);
      // What memory holds changed: an observer of the walker's view must re-read the frame.
      // (Only the lines written back change: CpuCache never writes back a line on its own.)
      note_write(leaves_[pfn >> kLeafBits].load(std::memory_order_acquire), pfn, lines_of(off, n));
    }
  });
}

std::uint64_t SimPhysMem::read64_uncached(PhysAddr pa) const {
  std::uint64_t v = 0;
  read_memory(pa, &v, 8);
  return v;
}

std::uint64_t SimPhysMem::dirty_lines() const {
  if (cpu_cache_ == nullptr) return 0;
  std::lock_guard lock(cache_mu_);
  return cpu_cache_->dirty_lines();
}

bool SimPhysMem::take_block(unsigned order, std::uint64_t limit_pfn, std::uint64_t* pfn) {
  // Lowest-address fit: the candidate of each order is its lowest free block; splitting a larger
  // block hands out its lower part, so the winner is the lowest start over all orders >= `order`.
  // Under `limit_pfn` only the lowest start of all can be the winner: a block fits below the
  // limit when start + 2^order <= limit_pfn, so if the lowest start does not, no start does. The
  // scan is then a plain minimum (no branch per order; kNoBlock is larger than any start).
  std::uint64_t best = kNoBlock;
  unsigned best_order = order;
  for (unsigned o = order; o <= kMaxOrder; ++o) {
    const std::uint64_t start = lowest_free_[o];
    best_order = start < best ? o : best_order;
    best = start < best ? start : best;
  }
  if (best == kNoBlock || best + (std::uint64_t{1} << order) > limit_pfn) return false;
  free_[best_order].erase(best >> best_order);
  update_lowest_free(best_order);
  // Split down, returning upper halves to the free lists.
  for (unsigned o = best_order; o > order; --o) {
    free_[o - 1].insert((best >> (o - 1)) + 1);
    update_lowest_free(o - 1);
  }
  *pfn = best;
  return true;
}

void SimPhysMem::release_block(std::uint64_t pfn, unsigned order) {
  // Coalesce with free buddies as far as possible.
  while (order < kMaxOrder && free_[order].erase((pfn >> order) ^ 1)) {
    update_lowest_free(order);
    pfn &= ~(std::uint64_t{1} << order);
    ++order;
  }
  free_[order].insert(pfn >> order);
  update_lowest_free(order);
}

Retcode SimPhysMem::alloc_frames(unsigned order, PhysAddr limit, PhysAddr* out) {
  if (out == nullptr || order > kMaxOrder) return rcInvalidArgument;
  if (failpoint_hit()) return rcOutOfMemory;
  const std::uint64_t limit_pfn =
      limit == 0 ? frame_count_ : std::min(frame_count_, limit >> vtd::kPageShift);
  std::uint64_t pfn = 0;
  {
    std::lock_guard lock(alloc_mu_);
    if (!take_block(order, limit_pfn, &pfn)) return rcOutOfMemory;
    allocated_.set(pfn, order);
    in_use_ += std::uint64_t{1} << order;
    peak_ = std::max(peak_, in_use_);
  }
  // Zero outside the lock: the block is ours now, nobody else can be handed it. A leaf never
  // materialised holds no frame, all of whose frames read as zeros already (zero_frame skips
  // each of them), so it is skipped whole: a 1 GiB block is 256 leaves.
  const std::uint64_t end = pfn + (std::uint64_t{1} << order);
  for (std::uint64_t i = pfn; i < end;) {
    const std::uint64_t leaf_end = std::min(end, ((i >> kLeafBits) + 1) << kLeafBits);
    if (leaves_[i >> kLeafBits].load(std::memory_order_acquire) != nullptr)
      for (std::uint64_t f = i; f < leaf_end; ++f) zero_frame(f);
    i = leaf_end;
  }
  *out = pfn << vtd::kPageShift;
  return rcOk;
}

void SimPhysMem::free_frames(PhysAddr pa, unsigned order) { free_blocks(&pa, 1, order); }

void SimPhysMem::free_blocks(const PhysAddr* blocks, std::size_t n, unsigned order) {
  // Chunks of kChunk blocks, so the checked blocks fit on the stack; each chunk is checked under
  // one lock, shown to the listener at once, released under one lock.
  constexpr std::size_t kChunk = 64;
  for (std::size_t done = 0; done < n;) {
    const std::size_t m = std::min(kChunk, n - done);
    PhysAddr valid[kChunk];
    std::size_t k = 0;
    // The blocks of this chunk already accepted, open addressing over twice the chunk (0 is never
    // a valid block: frame 0 is reserved). A block twice in a batch is a double free the second
    // time, as it would be in two free_frames calls, and the listener hears of it once.
    PhysAddr seen[2 * kChunk] = {};
    FrameFreeListener* listener = nullptr;
    {
      std::lock_guard lock(alloc_mu_);
      for (std::size_t i = 0; i < m; ++i) {
        const PhysAddr pa = blocks[done + i];
        const std::uint64_t pfn = pa >> vtd::kPageShift;
        if (pa % vtd::kPageSize != 0 || pfn >= frame_count_ || allocated_.get(pfn) != order) {
          ++bad_frees_;
          continue;
        }
        std::size_t slot = static_cast<std::size_t>(pfn >> order) % (2 * kChunk);
        while (seen[slot] != 0 && seen[slot] != pa) slot = (slot + 1) % (2 * kChunk);
        if (seen[slot] == pa) {
          ++bad_frees_;
          continue;
        }
        seen[slot] = pa;
        valid[k++] = pa;
      }
      listener = listener_;
    }
    done += m;
    if (k == 0) continue;
    // The listener inspects the frames (and the unit's state) before they can be reused.
    if (listener != nullptr) listener->on_frames_freed(valid, k, order);
    std::lock_guard lock(alloc_mu_);
    for (std::size_t j = 0; j < k; ++j) {
      const std::uint64_t pfn = valid[j] >> vtd::kPageShift;
      if (allocated_.get(pfn) != order) {  // freed concurrently by someone else
        ++bad_frees_;
        continue;
      }
      allocated_.clear(pfn);
      in_use_ -= std::uint64_t{1} << order;
      release_block(pfn, order);
    }
  }
}

void SimPhysMem::set_free_listener(FrameFreeListener* listener) {
  std::lock_guard lock(alloc_mu_);
  listener_ = listener;
}

std::uint64_t SimPhysMem::frames_in_use() const {
  std::lock_guard lock(alloc_mu_);
  return in_use_;
}

std::uint64_t SimPhysMem::peak_frames_in_use() const {
  std::lock_guard lock(alloc_mu_);
  return peak_;
}

std::uint64_t SimPhysMem::bad_free_count() const {
  std::lock_guard lock(alloc_mu_);
  return bad_frees_;
}

std::uint64_t SimPhysMem::out_of_range_access_count() const { return out_of_range_.load(kRelaxed); }

std::uint64_t SimPhysMem::materialised_frames() const { return materialised_.load(kRelaxed); }

}  // namespace kniommu::hw
