#include "hw/sim_phys_mem.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "common/failpoint.h"
#include "vtd/host_frames.h"

namespace kniommu::hw {
namespace {

constexpr std::uint64_t kMiB = std::uint64_t{1024} * 1024;

TEST(SimPhysMem, UnwrittenMemoryReadsZeroAndCostsNothing) {
  SimPhysMem mem(64ull * 1024 * kMiB);  // 64 GiB of address space
  EXPECT_EQ(mem.read64(0x1234'5000), 0u);
  std::array<unsigned char, 100> buf{};
  buf.fill(0xAA);
  mem.read(0x7'0000'0ff0, buf.data(), buf.size());
  for (auto b : buf) EXPECT_EQ(b, 0);
  EXPECT_EQ(mem.materialised_frames(), 0u);
  mem.write64(0x1000, 42);
  EXPECT_EQ(mem.materialised_frames(), 1u);
}

TEST(SimPhysMem, WordAndByteAccessAgreeAcrossFrames) {
  SimPhysMem mem(16 * kMiB);
  mem.write64(0x2000, 0x1122334455667788ull);
  unsigned char bytes[8];
  mem.read(0x2000, bytes, 8);
  EXPECT_EQ(bytes[0], 0x88);  // little-endian
  EXPECT_EQ(bytes[7], 0x11);

  // A byte range straddling a frame boundary, unaligned at both ends.
  std::vector<unsigned char> in(5000);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<unsigned char>(i * 7 + 3);
  mem.write(0x3ffd, in.data(), in.size());
  std::vector<unsigned char> out(in.size());
  mem.read(0x3ffd, out.data(), out.size());
  EXPECT_EQ(in, out);
  std::uint64_t w;
  std::memcpy(&w, &in[3], 8);
  EXPECT_EQ(mem.read64(0x4000), w);
  std::memcpy(&w, &in[6], 8);
  EXPECT_EQ(mem.read64(0x4003), w);  // an unaligned word goes through the byte path
}

// read()/write() copy a head of bytes, a run of words and a tail of bytes: every split of a range
// (offsets 0..15 of a frame, lengths 0..40, unaligned host buffers, a whole frame, a range crossing
// into the next frame) must give back exactly the bytes stored, and touch nothing outside them.
TEST(SimPhysMem, ReadsAndWritesOfEveryAlignmentAgree) {
  SimPhysMem mem(16 * kMiB);
  constexpr PhysAddr kBase = 0x5000;
  std::vector<unsigned char> pattern(2 * vtd::kPageSize);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    pattern[i] = static_cast<unsigned char>(i * 131 + 17);
  }
  mem.write(kBase, pattern.data(), pattern.size());
  std::vector<unsigned char> buf(vtd::kPageSize + 64);
  for (std::size_t host = 0; host < 3; ++host) {  // 0: aligned host buffer, else unaligned
    for (std::size_t off = 0; off < 16; ++off) {
      for (std::size_t len = 0; len <= 40; ++len) {
        std::fill(buf.begin(), buf.end(), 0xEE);
        mem.read(kBase + off, buf.data() + host, len);
        ASSERT_EQ(std::memcmp(buf.data() + host, pattern.data() + off, len), 0)
            << "read off " << off << " len " << len << " host " << host;
        ASSERT_EQ(buf[host + len], 0xEE) << "read past the end";
        if (host > 0) {
          ASSERT_EQ(buf[host - 1], 0xEE) << "read before the start";
        }
      }
    }
  }
  // A whole frame and a range crossing into the next frame, unaligned at both ends.
  mem.read(kBase, buf.data(), vtd::kPageSize);
  EXPECT_EQ(std::memcmp(buf.data(), pattern.data(), vtd::kPageSize), 0);
  mem.read(kBase + 0xFF3, buf.data() + 1, 1000);
  EXPECT_EQ(std::memcmp(buf.data() + 1, pattern.data() + 0xFF3, 1000), 0);

  // Writes of every split land exactly where asked (the bytes around them unchanged).
  for (std::size_t off = 0; off < 16; ++off) {
    for (std::size_t len = 0; len <= 40; ++len) {
      std::vector<unsigned char> in(len + 1);
      for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<unsigned char>(~(i + len));
      mem.write(kBase + 0x100 + off, in.data() + 1, len);  // unaligned source
      std::copy_n(in.data() + 1, len, pattern.begin() + 0x100 + static_cast<std::ptrdiff_t>(off));
      std::vector<unsigned char> out(96);
      mem.read(kBase + 0x100 - 16, out.data(), out.size());
      ASSERT_EQ(std::memcmp(out.data(), pattern.data() + 0x100 - 16, out.size()), 0)
          << "write off " << off << " len " << len;
    }
  }
}

// A device thread reading whole frames while the driver stores words into them is a benign race
// that must stay race-free (every access atomic): under ThreadSanitizer this fails if read() copies
// the frame with plain loads. Each word is written with equal halves, so a torn word shows.
TEST(SimPhysMem, WholeFrameReadsRaceFreeWithConcurrentStores) {
  SimPhysMem mem(16 * kMiB);
  PhysAddr pa = 0;
  ASSERT_EQ(mem.alloc_frames(1, 0, &pa), rcOk);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::uint64_t v = 1; !stop.load(std::memory_order_relaxed); ++v) {
      const std::uint64_t word = (v & 0xFFFF'FFFFu) * 0x1'0000'0001ull;
      mem.write64(pa + 8 * (v % 1024), word);  // both frames of the block
      if (v % 64 == 0) {
        const std::array<std::uint64_t, 4> run{word, word, word, word};
        mem.write(pa + 8 * ((v / 64) % 1020), run.data(), sizeof run);
      }
    }
  });
  std::vector<std::uint64_t> page(1024);
  int torn = 0;
  for (int round = 0; round < 300; ++round) {
    mem.read(pa, page.data(), 2 * vtd::kPageSize);  // two frames, one call
    for (const std::uint64_t w : page) torn += (w >> 32) != (w & 0xFFFF'FFFFu) ? 1 : 0;
  }
  stop.store(true, std::memory_order_relaxed);
  writer.join();
  EXPECT_EQ(torn, 0);
  mem.free_frames(pa, 1);
}

// Frame storage is recycled from one SimPhysMem to the next (a process-wide pool): a frame of a
// new memory must read as zeros, whatever the storage held before, through every reader.
TEST(SimPhysMem, RecycledFrameStorageComesBackZeroed) {
  for (int round = 0; round < 3; ++round) {
    SimPhysMem mem(16 * kMiB);
    for (PhysAddr pa = 0; pa < 64 * vtd::kPageSize; pa += vtd::kPageSize) {
      ASSERT_EQ(mem.read64(pa + 8 * static_cast<unsigned>(round)), 0u) << "round " << round;
      mem.write64(pa + 8 * static_cast<unsigned>(round + 1), 0x5A5A'0000u + pa);  // first write
      const std::uint64_t* words = mem.frame_for_read(pa);
      ASSERT_NE(words, nullptr);
      for (unsigned i = 0; i < 512; ++i) {
        if (i != static_cast<unsigned>(round + 1)) {
          ASSERT_EQ(vtd::load_entry(words, i), 0u) << "round " << round << " word " << i;
        }
      }
      std::uint64_t* w = mem.frame_for_write(pa);
      ASSERT_NE(w, nullptr);
      for (unsigned i = 0; i < 512; ++i) vtd::store_entry(w, i, ~std::uint64_t{i});  // dirty it all
    }
  }
}

TEST(SimPhysMem, OutOfRangeAccessIsCountedNotFatal) {
  SimPhysMem mem(8 * kMiB);
  EXPECT_EQ(mem.read64(8 * kMiB), 0u);
  mem.write64(8 * kMiB + 8, 1);
  unsigned char b[16] = {1};
  mem.read(8 * kMiB - 8, b, 16);  // crosses the end
  EXPECT_EQ(b[0], 0);
  EXPECT_EQ(mem.out_of_range_access_count(), 3u);
}

TEST(SimPhysMem, FrameZeroIsNeverHandedOut) {
  SimPhysMem mem(2 * vtd::kPageSize);
  PhysAddr pa = 0;
  ASSERT_EQ(mem.alloc_frame(&pa), rcOk);
  EXPECT_EQ(pa, 0x1000u);
  EXPECT_EQ(mem.alloc_frame(&pa), rcOutOfMemory);
}

TEST(SimPhysMem, LowestAddressFitIsDeterministicAndAligned) {
  SimPhysMem mem(64 * kMiB);
  PhysAddr a, b, c, d;
  ASSERT_EQ(mem.alloc_frame(&a), rcOk);
  ASSERT_EQ(mem.alloc_frames(2, 0, &b), rcOk);  // 16 KiB, aligned to 16 KiB
  ASSERT_EQ(mem.alloc_frame(&c), rcOk);
  ASSERT_EQ(mem.alloc_frames(9, 0, &d), rcOk);  // 2 MiB
  EXPECT_EQ(a, 0x1000u);
  EXPECT_EQ(b, 0x4000u);
  EXPECT_EQ(c, 0x2000u);  // fills the hole below b
  EXPECT_EQ(d % (2 * kMiB), 0u);
  EXPECT_EQ(d, 2 * kMiB);
  EXPECT_EQ(mem.frames_in_use(), 1u + 4 + 1 + 512);

  // Freeing and reallocating gives the same addresses again (coalescing restores the blocks).
  mem.free_frames(d, 9);
  mem.free_frame(c);
  mem.free_frames(b, 2);
  PhysAddr b2, c2;
  ASSERT_EQ(mem.alloc_frames(2, 0, &b2), rcOk);
  ASSERT_EQ(mem.alloc_frame(&c2), rcOk);
  EXPECT_EQ(b2, b);
  EXPECT_EQ(c2, c);
}

TEST(SimPhysMem, AllocationsComeZeroedAfterReuse) {
  SimPhysMem mem(8 * kMiB);
  PhysAddr pa;
  ASSERT_EQ(mem.alloc_frames(1, 0, &pa), rcOk);
  mem.write64(pa + 8, ~0ull);
  mem.write64(pa + 4096 + 16, 5);
  mem.free_frames(pa, 1);
  PhysAddr again;
  ASSERT_EQ(mem.alloc_frames(1, 0, &again), rcOk);
  ASSERT_EQ(again, pa);
  EXPECT_EQ(mem.read64(pa + 8), 0u);
  EXPECT_EQ(mem.read64(pa + 4096 + 16), 0u);
}

// The buddy allocator against a reference: the same lowest-address fit written with one ordered
// set of free block starts per order. Random allocations (every order up to 10, random limits),
// frees (also wrong-order and double frees) over a memory whose size is not a power of two, so
// blocks near its end have no buddy: both must hand out the same addresses and agree on failures.
TEST(SimPhysMem, BuddyAllocatorMatchesAReferenceUnderRandomTraffic) {
  struct Reference {
    std::vector<std::set<std::uint64_t>> free_lists;
    std::map<std::uint64_t, unsigned> allocated;
    explicit Reference(std::uint64_t frames) : free_lists(SimPhysMem::kMaxOrder + 1) {
      for (std::uint64_t pfn = 1; pfn < frames;) {
        unsigned order = 0;
        while (order < SimPhysMem::kMaxOrder && pfn % (std::uint64_t{2} << order) == 0 &&
               pfn + (std::uint64_t{2} << order) <= frames) {
          ++order;
        }
        free_lists[order].insert(pfn);
        pfn += std::uint64_t{1} << order;
      }
    }
    bool alloc(unsigned order, std::uint64_t limit_pfn, std::uint64_t* out) {
      unsigned best_order = SimPhysMem::kMaxOrder + 1;
      std::uint64_t best = 0;
      for (unsigned o = order; o <= SimPhysMem::kMaxOrder; ++o) {
        if (free_lists[o].empty()) continue;
        const std::uint64_t start = *free_lists[o].begin();
        if (start + (std::uint64_t{1} << order) > limit_pfn) continue;
        if (best_order > SimPhysMem::kMaxOrder || start < best) best = start, best_order = o;
      }
      if (best_order > SimPhysMem::kMaxOrder) return false;
      free_lists[best_order].erase(best);
      for (unsigned o = best_order; o > order; --o) free_lists[o - 1].insert(best + (1ull << (o - 1)));
      allocated[best] = order;
      *out = best;
      return true;
    }
    bool free(std::uint64_t pfn, unsigned order) {
      const auto it = allocated.find(pfn);
      if (it == allocated.end() || it->second != order) return false;
      allocated.erase(it);
      while (order < SimPhysMem::kMaxOrder && free_lists[order].erase(pfn ^ (1ull << order)) != 0) {
        pfn &= ~(1ull << order);
        ++order;
      }
      free_lists[order].insert(pfn);
      return true;
    }
  };
  constexpr std::uint64_t kFrames = (std::uint64_t{1} << 19) + 4096 * 3 + 37;  // ~2 GiB, ragged end
  SimPhysMem mem(kFrames * vtd::kPageSize);
  Reference ref(kFrames);
  std::mt19937_64 rng(5);
  std::vector<std::pair<std::uint64_t, unsigned>> live;
  std::uint64_t bad = 0;
  for (int step = 0; step < 20000; ++step) {
    if (live.empty() || rng() % 100 < 55) {
      const unsigned order = rng() % 8 == 0 ? static_cast<unsigned>(rng() % 11) : static_cast<unsigned>(rng() % 3);
      const std::uint64_t limit_pfn = rng() % 10 == 0 ? 1 + rng() % kFrames : kFrames;
      std::uint64_t want = 0;
      const bool ok = ref.alloc(order, limit_pfn, &want);
      PhysAddr got = 0;
      const Retcode rc =
          mem.alloc_frames(order, limit_pfn == kFrames ? 0 : limit_pfn << vtd::kPageShift, &got);
      ASSERT_EQ(rc == rcOk, ok) << "step " << step << " order " << order << " limit " << limit_pfn;
      if (!ok) continue;
      ASSERT_EQ(got >> vtd::kPageShift, want) << "step " << step << " order " << order;
      live.emplace_back(want, order);
    } else {
      const std::size_t i = rng() % live.size();
      auto [pfn, order] = live[i];
      if (rng() % 20 == 0) order = (order + 1) % 4;  // a wrong order: refused by both
      if (rng() % 20 != 0) {  // else a double free below: refused by both
        live[i] = live.back();
        live.pop_back();
      } else if (ref.free(pfn, order)) {
        mem.free_frames(pfn << vtd::kPageShift, order);
      }
      if (!ref.free(pfn, order)) ++bad;
      mem.free_frames(pfn << vtd::kPageShift, order);
      ASSERT_EQ(mem.bad_free_count(), bad) << "step " << step;
    }
  }
  std::uint64_t in_use = 0;
  for (const auto& [pfn, order] : ref.allocated) in_use += std::uint64_t{1} << order;
  EXPECT_EQ(mem.frames_in_use(), in_use);
  EXPECT_GT(bad, 100u);
}

TEST(SimPhysMem, LimitIsRespected) {
  SimPhysMem mem(64 * kMiB);
  PhysAddr pa;
  // Below 16 KiB only frames 1..3 exist; an order-2 block (frames 0..3 or 4..7) cannot fit.
  EXPECT_EQ(mem.alloc_frames(2, 0x4000, &pa), rcOutOfMemory);
  ASSERT_EQ(mem.alloc_frames(0, 0x4000, &pa), rcOk);
  EXPECT_LT(pa + 4096, 0x4000u + 1);
  ASSERT_EQ(mem.alloc_frames(0, 0x4000, &pa), rcOk);
  ASSERT_EQ(mem.alloc_frames(0, 0x4000, &pa), rcOk);
  EXPECT_EQ(mem.alloc_frames(0, 0x4000, &pa), rcOutOfMemory);
  EXPECT_EQ(mem.frames_in_use(), 3u);
}

TEST(SimPhysMem, AccountingTracksPeakAndExhaustion) {
  SimPhysMem mem(1 * kMiB);  // 256 frames, 255 usable
  std::vector<PhysAddr> got;
  PhysAddr pa;
  while (mem.alloc_frame(&pa) == rcOk) got.push_back(pa);
  EXPECT_EQ(got.size(), 255u);
  EXPECT_EQ(mem.frames_in_use(), 255u);
  for (PhysAddr p : got) mem.free_frame(p);
  EXPECT_EQ(mem.frames_in_use(), 0u);
  EXPECT_EQ(mem.peak_frames_in_use(), 255u);
  // Everything coalesced back: the largest block that fits beside frame 0 is available again.
  ASSERT_EQ(mem.alloc_frames(7, 0, &pa), rcOk);
  EXPECT_EQ(pa, 128u * 4096);
}

TEST(SimPhysMem, BadFreesAreCountedAndIgnored) {
  SimPhysMem mem(8 * kMiB);
  PhysAddr pa;
  ASSERT_EQ(mem.alloc_frames(1, 0, &pa), rcOk);
  mem.free_frames(pa, 0);  // wrong order
  EXPECT_EQ(mem.frames_in_use(), 2u);
  mem.free_frames(pa, 1);
  mem.free_frames(pa, 1);  // double free
  mem.free_frames(0, 0);   // the reserved frame
  EXPECT_EQ(mem.bad_free_count(), 3u);
  EXPECT_EQ(mem.frames_in_use(), 0u);
}

TEST(SimPhysMem, FailpointInjectsOutOfMemory) {
  SimPhysMem mem(8 * kMiB);
  PhysAddr pa;
  failpoint_arm(2);
  EXPECT_EQ(mem.alloc_frame(&pa), rcOk);
  EXPECT_EQ(mem.alloc_frame(&pa), rcOutOfMemory);
  EXPECT_EQ(mem.alloc_frame(&pa), rcOk);
  failpoint_disarm();
  EXPECT_EQ(mem.frames_in_use(), 2u);
}

class RecordingListener final : public FrameFreeListener {
 public:
  explicit RecordingListener(const SimPhysMem& mem) : mem_(mem) {}
  void on_frames_freed(const PhysAddr* blocks, std::size_t n, unsigned order) override {
    batches.push_back(n);
    for (std::size_t i = 0; i < n; ++i) calls.push_back({blocks[i], order});
    contents_at_free = mem_.read64(blocks[0]);
    in_use_at_free = mem_.frames_in_use();
  }
  std::vector<std::size_t> batches;
  std::vector<std::pair<PhysAddr, unsigned>> calls;
  std::uint64_t contents_at_free = 0;
  std::uint64_t in_use_at_free = 0;

 private:
  const SimPhysMem& mem_;
};

TEST(SimPhysMem, FreeListenerSeesFramesBeforeRelease) {
  SimPhysMem mem(8 * kMiB);
  RecordingListener listener(mem);
  mem.set_free_listener(&listener);
  PhysAddr pa;
  ASSERT_EQ(mem.alloc_frames(3, 0, &pa), rcOk);
  mem.write64(pa, 0xfeed);
  mem.free_frames(pa, 3);
  mem.free_frames(pa, 3);  // bad free: not reported
  ASSERT_EQ(listener.calls.size(), 1u);
  EXPECT_EQ(listener.calls[0], std::make_pair(pa, 3u));
  EXPECT_EQ(listener.contents_at_free, 0xfeedu);
  EXPECT_EQ(listener.in_use_at_free, 8u);  // still accounted while the listener runs
  mem.set_free_listener(nullptr);
}

// free_blocks checks each block as free_frames does, tells the listener of the valid ones once
// (in chunks of at most 64), and releases them: the same end state as one free_frames per block.
TEST(SimPhysMem, FreeBlocksIsFreeFramesPerBlock) {
  SimPhysMem mem(8 * kMiB);
  RecordingListener listener(mem);
  mem.set_free_listener(&listener);
  std::vector<PhysAddr> good;
  for (int i = 0; i < 100; ++i) {
    PhysAddr pa;
    ASSERT_EQ(mem.alloc_frames(1, 0, &pa), rcOk);
    good.push_back(pa);
  }
  PhysAddr other;
  ASSERT_EQ(mem.alloc_frames(2, 0, &other), rcOk);
  std::vector<PhysAddr> batch = good;
  batch.insert(batch.begin() + 10, other);        // wrong order
  batch.insert(batch.begin() + 20, good[5]);      // twice in the batch (same chunk)
  batch.insert(batch.begin() + 90, good[7]);      // twice, in another chunk: freed already
  batch.insert(batch.begin() + 30, 0);            // the reserved frame
  batch.insert(batch.begin() + 40, good[1] + 8);  // unaligned
  mem.free_blocks(batch.data(), batch.size(), 1);
  EXPECT_EQ(mem.bad_free_count(), 5u);
  EXPECT_EQ(mem.frames_in_use(), 4u);  // `other` only
  std::vector<PhysAddr> told;
  for (const auto& [pa, order] : listener.calls) {
    EXPECT_EQ(order, 1u);
    told.push_back(pa);
  }
  std::sort(told.begin(), told.end());
  std::vector<PhysAddr> want = good;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(told, want);
  for (std::size_t n : listener.batches) EXPECT_LE(n, 64u);
  EXPECT_EQ(listener.batches.size(), 2u);
  mem.free_blocks(&other, 1, 2);
  EXPECT_EQ(mem.frames_in_use(), 0u);
  // Everything coalesced back: the largest block beside frame 0's is available again.
  PhysAddr big;
  ASSERT_EQ(mem.alloc_frames(10, 0, &big), rcOk);
  EXPECT_EQ(big, 1024u * 4096);
  mem.set_free_listener(nullptr);
}

TEST(SimPhysMem, ConcurrentAllocationAndAccess) {
  SimPhysMem mem(64 * kMiB);
  constexpr int kThreads = 4;
  constexpr int kRounds = 200;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::array<int, kThreads> errors{};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        PhysAddr pa;
        if (mem.alloc_frames(static_cast<unsigned>(r % 3), 0, &pa) != rcOk) {
          ++errors[static_cast<std::size_t>(t)];
          continue;
        }
        const std::uint64_t tag = (static_cast<std::uint64_t>(t) << 32) | static_cast<unsigned>(r);
        mem.write64(pa + 64, tag);
        if (mem.read64(pa + 64) != tag || mem.read64(pa) != 0)
          ++errors[static_cast<std::size_t>(t)];
        mem.free_frames(pa, static_cast<unsigned>(r % 3));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int e : errors) EXPECT_EQ(e, 0);
  EXPECT_EQ(mem.frames_in_use(), 0u);
  EXPECT_EQ(mem.bad_free_count(), 0u);
}

// The write log of a watched frame names the 64-byte lines each kind of store touched (a
// superset is allowed, never fewer): the use-after-free audit re-reads only those lines.
TEST(SimPhysMem, WriteLogNamesTheLinesWritten) {
  SimPhysMem mem(16 * kMiB);
  PhysAddr f = 0, other = 0;
  ASSERT_EQ(mem.alloc_frame(&f), rcOk);
  ASSERT_EQ(mem.alloc_frame(&other), rcOk);
  mem.set_write_watch(f, true);
  std::vector<std::uint64_t> pfns, lines;
  mem.take_written_frames(&pfns, &lines);
  ASSERT_TRUE(pfns.empty());
  const auto bit = [](unsigned line) { return std::uint64_t{1} << line; };

  mem.write64(f + 0x48, 1);  // line 1
  const std::array<unsigned char, 8> b{1, 2, 3, 4, 5, 6, 7, 8};
  mem.write(f + 0x7C, b.data(), b.size());          // straddles lines 1 and 2
  mem.device_write(f + 0xFF8, b.data(), b.size());  // the last line
  mem.write64(other, 5);                            // not watched: not logged
  mem.take_written_frames(&pfns, &lines);
  ASSERT_EQ(pfns, std::vector<std::uint64_t>{f >> 12});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], bit(1) | bit(2) | bit(63));

  // Taken: the next log starts empty; a host pointer may be stored through anywhere.
  ASSERT_NE(mem.frame_for_write(f), nullptr);
  mem.take_written_frames(&pfns, &lines);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], ~std::uint64_t{0});

  // With the CPU-cache model (ECAP.C = 0) a write-back changes what memory holds in the lines
  // written back.
  mem.enable_cpu_cache_model();
  mem.write64(f + 0x100, 7);  // line 4, dirty in the CPU cache
  mem.take_written_frames(&pfns, &lines);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], bit(4));
  mem.flush_cpu_cache(f + 0x100, 8);
  mem.take_written_frames(&pfns, &lines);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], bit(4));
  mem.free_frame(other);
  mem.free_frame(f);
}


// frame_generation (the conformance suite skips re-reading tables whose generation is unchanged):
// every path that can change what read() returns changes it; nothing else does.
TEST(SimPhysMem, EveryWritePathChangesTheFrameGeneration) {
  SimPhysMem mem(16 * kMiB);
  PhysAddr f = 0, next = 0;
  ASSERT_EQ(mem.alloc_frames(1, 0, &f), rcOk);  // two frames: f and the one after
  next = f + vtd::kPageSize;
  std::uint64_t last = mem.frame_generation(f);
  ASSERT_NE(last, 0u);
  // Changed since `last` (and never 0); remembers the new value.
  const auto changed = [&](const char* how) {
    const std::uint64_t g = mem.frame_generation(f);
    EXPECT_NE(g, 0u) << how;
    EXPECT_NE(g, last) << how;
    last = g;
  };
  const auto unchanged = [&](const char* how) { EXPECT_EQ(mem.frame_generation(f), last) << how; };

  // Reads change nothing.
  std::array<unsigned char, 64> buf{};
  (void)mem.read64(f + 8);
  mem.read(f + 3, buf.data(), buf.size());
  mem.read_memory(f, buf.data(), buf.size());
  (void)mem.frame_for_read(f);
  unchanged("reads");

  mem.write64(f + 0x10, 1);
  changed("write64");
  mem.write64(f + 0x13, 2);
  changed("unaligned write64");
  mem.write(f + 0x20, buf.data(), 3);
  changed("write");
  mem.device_write(f + 0x40, buf.data(), buf.size());
  changed("device_write");
  const std::uint64_t next_before = mem.frame_generation(next);
  mem.write(next - 4, buf.data(), 8);  // the last 4 bytes of f, the first 4 of the next frame
  changed("write across frames");
  EXPECT_NE(mem.frame_generation(next), next_before);

  // A writable host pointer: its hand-out counts as a write, and the query revokes it (a new
  // write epoch), so a holder that keeps pointers while the epoch is unchanged (HostFrames) asks
  // again, and its next store is seen as well.
  vtd::HostFrames frames(mem);
  vtd::store_entry(frames.for_write(f), 5, 0x55);
  changed("store through a writable pointer");
  vtd::store_entry(frames.for_write(f), 6, 0x66);
  changed("store through a writable pointer asked for again after the query");
  EXPECT_EQ(mem.read64(f + 6 * 8), 0x66u);
  std::uint64_t* held = mem.frame_for_write(f);
  const std::uint64_t epoch = mem.write_epoch();
  vtd::store_entry(held, 7, 0x77);  // before the query
  changed("store through a pointer handed out before the query");
  EXPECT_NE(mem.write_epoch(), epoch) << "the pointer is still valid after the query";
  const std::uint64_t epoch_after = mem.write_epoch();
  unchanged("no pointer handed out since");
  EXPECT_EQ(mem.write_epoch(), epoch_after) << "a query without pointers bumps the epoch";

  // Zeroing on allocation: freed and handed out again (lowest-address fit: the same frames).
  mem.free_frames(f, 1);
  unchanged("free");
  PhysAddr again = 0;
  ASSERT_EQ(mem.alloc_frames(1, 0, &again), rcOk);
  ASSERT_EQ(again, f);
  changed("zeroing on allocation");

  // With the CPU-cache model (ECAP.C = 0): stores, and write-backs (memory's copy changes).
  mem.enable_cpu_cache_model();
  mem.write64(f, 9);
  changed("write64 with the CPU-cache model");
  mem.flush_cpu_cache(f, 8);
  changed("write-back");
  mem.flush_cpu_cache(f, 8);
  unchanged("a write-back of clean lines");

  EXPECT_EQ(mem.frame_generation(f + 8), 0u) << "unaligned: unknown";
  EXPECT_EQ(mem.frame_generation(16 * kMiB), 0u) << "out of range: unknown";
  mem.free_frames(f, 1);
}

// A frame's generations never repeat, across frees and reallocations; a frame never written and
// never allocated has one too.
TEST(SimPhysMem, FrameGenerationsNeverRepeat) {
  SimPhysMem mem(4 * kMiB);
  std::mt19937_64 rng(7);
  std::map<PhysAddr, std::set<std::uint64_t>> seen;  // per frame: every value it had
  std::map<PhysAddr, std::uint64_t> current;
  std::vector<PhysAddr> live;
  for (int step = 0; step < 3000; ++step) {
    PhysAddr pa = 0;
    switch (rng() % 4) {
      case 0:
        if (mem.alloc_frame(&pa) == rcOk) live.push_back(pa);
        break;
      case 1:
        if (!live.empty()) {
          const std::size_t i = rng() % live.size();
          mem.free_frame(live[i]);
          live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
        }
        break;
      case 2:
        if (!live.empty()) mem.write64(live[rng() % live.size()] + 8 * (rng() % 512), rng());
        break;
      default:
        pa = (1 + rng() % 64) * vtd::kPageSize;
        {
          const std::uint64_t g = mem.frame_generation(pa);
          ASSERT_NE(g, 0u);
          auto it = current.find(pa);
          if (it != current.end() && it->second == g) break;  // not written since
          ASSERT_TRUE(seen[pa].insert(g).second) << "generation " << g << " repeated";
          current[pa] = g;
        }
        break;
    }
  }
}

// Queries race with a device writing the frame (TSan: no data race); once the writes are done the
// generation has moved on, and the frame then reads as its last write.
TEST(SimPhysMem, FrameGenerationQueriesRaceFreeWithDeviceWrites) {
  SimPhysMem mem(16 * kMiB);
  PhysAddr f = 0;
  ASSERT_EQ(mem.alloc_frame(&f), rcOk);
  const std::uint64_t before = mem.frame_generation(f);
  std::thread device([&] {
    for (std::uint64_t i = 1; i <= 2000; ++i) mem.device_write(f + 8 * (i % 512), &i, sizeof i);
  });
  std::uint64_t prev = before;
  std::array<std::uint64_t, 512> words{};
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t g = mem.frame_generation(f);
    EXPECT_GE(g, prev);  // drawn from one increasing counter
    prev = g;
    mem.read(f, words.data(), sizeof words);
  }
  device.join();
  const std::uint64_t after = mem.frame_generation(f);
  EXPECT_NE(after, before);
  mem.read(f, words.data(), sizeof words);
  EXPECT_EQ(words[2000 % 512], 2000u);
  EXPECT_EQ(mem.frame_generation(f), after);
  mem.free_frame(f);
}

}  // namespace
}  // namespace kniommu::hw
