// The three translation caches of the emulated unit. Each keeps serving what it holds until an
// invalidation (or capacity eviction) removes it — exactly the staleness real hardware has, which
// is what lets the tests catch a driver that forgets to invalidate.
//   ContextCache            SID -> decoded context entry (negative entries too when CM=1)
//   Iotlb                   (DID, page, size) -> frame + permissions, tagged by DID, not SID
//   PagingStructureCache    (DID, level, IOVA prefix) -> next-table pointer (non-leaf entries)
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "hw/bounded_cache.h"
#include "hw/frame_refs.h"
#include "vtd/address_math.h"
#include "vtd/phys_mem.h"

namespace kniommu::hw {

using vtd::PhysAddr;

// A context entry as the unit decoded it. `present` false = a cached not-present entry (CM=1),
// which hardware tags with DID 0.
struct ContextInfo {
  bool present = false;
  bool fpd = false;
  std::uint8_t tt = 0;
  std::uint8_t levels = 0;  // AW + 2
  std::uint16_t did = 0;
  PhysAddr slptptr = 0;
  // The IOVA bits at and above the input address width (Walker::input_width), decoded with the
  // entry: a request with any of them set is beyond the width.
  std::uint64_t beyond_width = 0;
};

// Each cache can keep a FrameRefs up to date with the frames its entries point at (track()): the
// unit's use-after-free audit. Without it (nullptr, the default) nothing is counted.
class ContextCache {
 public:
  explicit ContextCache(std::size_t capacity) : cache_(capacity) {}
  void track(FrameRefs* refs) { refs_ = refs; }
  // The last entry found is remembered (most requests come from the device of the one before):
  // a repeat lookup is one compare. Every change of the cache goes through insert() or erase_if(),
  // which forget it, so it never names an entry that left or moved.
  const ContextInfo* find(std::uint16_t sid) {
    if (memo_ != nullptr && memo_sid_ == sid) return memo_;
    const ContextInfo* c = cache_.find(sid);
    if (c != nullptr) {
      memo_sid_ = sid;
      memo_ = c;
    }
    return c;
  }
  bool insert(std::uint16_t sid, const ContextInfo& ctx);
  std::size_t invalidate_all();
  std::size_t invalidate_domain(std::uint16_t did);
  // Device-selective: SIDs equal to `sid` outside the function bits FM masks (FM 1: bit 2,
  // 2: bits 2:1, 3: bits 2:0), and with the given DID.
  std::size_t invalidate_device(std::uint16_t sid, unsigned fm, std::uint16_t did);
  template <class Fn>
  void for_each(Fn fn) const {
    cache_.for_each(fn);
  }
  std::size_t size() const { return cache_.size(); }

 private:
  // A present, translating context names its top-level table.
  void count(const ContextInfo& c, int delta) const;
  template <class Pred>
  std::size_t erase_if(Pred pred);

  BoundedCache<std::uint16_t, ContextInfo, std::hash<std::uint16_t>> cache_;
  FrameRefs* refs_ = nullptr;
  const ContextInfo* memo_ = nullptr;  // the entry of memo_sid_, or nullptr
  std::uint16_t memo_sid_ = 0;
};

struct IotlbKey {
  std::uint16_t did = 0;
  std::uint8_t shift = 0;  // page size: 12, 21 or 30
  std::uint64_t vpn = 0;   // iova >> shift
  friend bool operator==(const IotlbKey&, const IotlbKey&) = default;
};
// BoundedCache takes a bucket from the low bits. A product's low bits depend only on the page
// number's low bits (every page 2^b pages apart would share a bucket: an IOTLB of 512 entries
// holding pages 8 MiB apart was one chain of 512), so the high half, which depends on all of
// them, is folded into the low half.
struct IotlbKeyHash {
  std::size_t operator()(const IotlbKey& k) const {
    const std::uint64_t h = k.vpn * 0x9E3779B97F4A7C15ull;
    return (h ^ (h >> 32)) ^ (std::uint64_t{k.did} << 8) ^ k.shift;
  }
};
struct IotlbEntry {
  PhysAddr page_pa = 0;    // base of the (super)page
  std::uint8_t perms = 0;  // kPermRead | kPermWrite; 0 for a negative (not-present) entry
};

class Iotlb {
 public:
  explicit Iotlb(std::size_t capacity) : cache_(capacity) {}
  void track(FrameRefs* refs) { refs_ = refs; }
  // The entry covering `iova` for `did`, trying 4 KiB, then 2 MiB, then 1 GiB; nullptr on miss.
  // The 4 KiB probe keeps its bucket for insert_after_miss.
  const IotlbEntry* find(std::uint16_t did, std::uint64_t iova, unsigned* shift) {
    const IotlbKey key{did, 12, iova >> 12};
    missed_bucket_ = cache_.bucket_of(key);
    if (const IotlbEntry* e = cache_.find_in_bucket(key, missed_bucket_)) {
      *shift = 12;
      return e;
    }
    return superpages_ != 0 ? find_superpage(did, iova, shift) : nullptr;
  }
  bool insert(std::uint16_t did, std::uint64_t iova, unsigned shift, const IotlbEntry& e);
  // insert() right after find(did, iova) missed, with no change in between: no entry of any size
  // covers `iova`, so the fill skips the second probe. Inline: the IOTLB miss path's fill.
  [[gnu::always_inline]] bool insert_after_miss(std::uint16_t did, std::uint64_t iova,
                                                              unsigned shift, const IotlbEntry& e) {
    const IotlbKey key{did, static_cast<std::uint8_t>(shift), iova >> shift};
    count(key, e, +1);
    // A 4 KiB fill goes to the bucket the 4 KiB probe of find() just computed.
    const std::uint32_t bucket = shift == 12 ? missed_bucket_ : cache_.bucket_of(key);
    return cache_.insert_absent_in_bucket(
        key, bucket, e, [this](const IotlbKey& k, const IotlbEntry& old) { count(k, old, -1); });
  }
  std::size_t invalidate_all();
  std::size_t invalidate_domain(std::uint16_t did);
  // Page-selective: every entry of `did` that maps any byte of [addr, addr + 2^(12+am)), with addr
  // masked down to that alignment — including superpage entries covering part of the range.
  std::size_t invalidate_pages(std::uint16_t did, std::uint64_t addr, unsigned am);
  template <class Fn>
  void for_each(Fn fn) const {
    cache_.for_each(fn);
  }
  std::size_t size() const { return cache_.size(); }
  std::size_t longest_chain() const { return cache_.longest_chain(); }

 private:
  // Every entry adding (+1) or leaving (-1): superpage count; a positive entry names its
  // (super)page for the audit, a negative one (perms 0, CM=1) names nothing.
  // Inline: it runs twice on every fill that evicts (the new entry and the evicted one).
  void count(const IotlbKey& k, const IotlbEntry& e, int delta) {
    if (k.shift != 12) superpages_ = delta > 0 ? superpages_ + 1 : superpages_ - 1;
    if (refs_ == nullptr || e.perms == 0) return;
    if (delta > 0) {
      refs_->add(e.page_pa, k.shift);
    } else {
      refs_->remove(e.page_pa, k.shift);
    }
  }
  // find() past its 4 KiB probe: 2 MiB, then 1 GiB.
  const IotlbEntry* find_superpage(std::uint16_t did, std::uint64_t iova, unsigned* shift);
  template <class Pred>
  std::size_t erase_if(Pred pred);

  BoundedCache<IotlbKey, IotlbEntry, IotlbKeyHash> cache_;
  FrameRefs* refs_ = nullptr;
  std::size_t superpages_ = 0;  // 2 MiB / 1 GiB entries held: find() probes them only if any
  std::uint32_t missed_bucket_ = 0;  // bucket of the last 4 KiB key find() probed
};

// Non-leaf entries: the level-L entry (L >= 2) covers 2^(12 + 9(L-1)) bytes of IOVA; its tag is
// the IOVA bits above that. The value is the next table and the permissions ANDed so far.
struct PscEntry {
  PhysAddr next_table = 0;
  std::uint8_t perms = 0;
  // Where the cached non-leaf entry lives and what it held: a page-selective invalidation with
  // IH=1 promises that no such entry changed, which the unit checks against memory.
  PhysAddr entry_pa = 0;
  std::uint64_t raw = 0;
};

class PagingStructureCache {
 public:
  explicit PagingStructureCache(std::size_t capacity) : cache_(capacity) {}
  void track(FrameRefs* refs) { refs_ = refs; }
  static unsigned shift_of(unsigned level) { return vtd::level_shift(level); }
  const PscEntry* find(std::uint16_t did, unsigned level, std::uint64_t iova) {
    return cache_.find(IotlbKey{did, static_cast<std::uint8_t>(level), iova >> shift_of(level)});
  }
  bool insert(std::uint16_t did, unsigned level, std::uint64_t iova, const PscEntry& e);
  std::size_t invalidate_all();
  std::size_t invalidate_domain(std::uint16_t did);
  std::size_t invalidate_range(std::uint16_t did, std::uint64_t addr, unsigned am);
  // Cached entries of `did` whose range overlaps the page-selective range (ADDR, AM).
  std::vector<PscEntry> entries_in_range(std::uint16_t did, std::uint64_t addr, unsigned am) const;
  // True when some cached entry points at a table inside [pa, pa + len).
  bool references(PhysAddr pa, std::uint64_t len) const;
  std::size_t size() const { return cache_.size(); }
  std::size_t longest_chain() const { return cache_.longest_chain(); }

 private:
  // An entry names the next table's frame.
  void count(const PscEntry& e, int delta) const;
  template <class Pred>
  std::size_t erase_if(Pred pred);

  // Key reuse: `shift` holds the level here.
  BoundedCache<IotlbKey, PscEntry, IotlbKeyHash> cache_;
  FrameRefs* refs_ = nullptr;
};

// [a, a + 2^a_shift) overlaps [b, b + len)?
inline bool overlaps(std::uint64_t a, unsigned a_shift, std::uint64_t b, std::uint64_t len) {
  const std::uint64_t a_end = a + (std::uint64_t{1} << a_shift);
  return a < b + len && b < a_end;
}

}  // namespace kniommu::hw
