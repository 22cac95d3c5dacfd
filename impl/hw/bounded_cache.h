// A fixed-capacity associative cache with deterministic replacement, the storage behind the
// emulated context cache, IOTLB and paging-structure cache. Entries live in a slot array indexed by
// a chained hash table (each slot links to the next slot of its bucket and remembers its bucket:
// no allocation after construction, and removing an entry unlinks it from a chain of about one
// element instead of re-probing and shifting a cluster, which keeps an IOTLB miss-and-fill
// cheap); when every slot is taken the slot under a round-robin "clock hand" is replaced, so a
// given sequence of fills always evicts the same entries (runs are reproducible).
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace kniommu::hw {

template <class Key, class Value, class Hash>
class BoundedCache {
 public:
  explicit BoundedCache(std::size_t capacity) : slots_(capacity == 0 ? 1 : capacity) {
    std::size_t buckets = 1;
    while (buckets < 2 * slots_.size()) buckets *= 2;  // load factor <= 1/2
    index_.assign(buckets, kEmpty);
    bucket_mask_ = buckets - 1;
    capacity_ = static_cast<std::uint32_t>(slots_.size());
    for (std::size_t i = slots_.size(); i > 0; --i)
      free_.push_back(static_cast<std::uint32_t>(i - 1));
  }

  Value* find(const Key& key) { return find_in(key, home(key)); }
  // find() in two steps, for a caller that fills the same key after a miss
  // (insert_absent_in_bucket) and so computes its hash once.
  std::uint32_t bucket_of(const Key& key) const { return static_cast<std::uint32_t>(home(key)); }
  Value* find_in_bucket(const Key& key, std::uint32_t bucket) { return find_in(key, bucket); }

  // Inserts or replaces; returns true when a different entry had to be evicted to make room.
  bool insert(const Key& key, const Value& value) {
    return insert(key, value, [](const Key&, const Value&) {});
  }
  // The same, calling on_drop(key, value) for the entry that leaves: the replaced or the evicted.
  template <class OnDrop>
  bool insert(const Key& key, const Value& value, OnDrop&& on_drop) {
    const auto b = static_cast<std::uint32_t>(home(key));
    if (Value* v = find_in(key, b)) {
      on_drop(key, *v);
      *v = value;
      return false;
    }
    return insert_into(b, key, value, on_drop);
  }
  // The same for a key known to be absent (a lookup just missed and nothing changed since) whose
  // bucket_of() is at hand: no second probe, no second hash.
  template <class OnDrop>
  [[gnu::always_inline]] bool insert_absent_in_bucket(const Key& key, std::uint32_t bucket,
                                                      const Value& value, OnDrop&& on_drop) {
    assert(bucket == bucket_of(key) && find_in(key, bucket) == nullptr);
    return insert_into(bucket, key, value, on_drop);
  }

 private:
  // Inline: the fill is on every IOTLB miss, and a call would spill the key and value.
  template <class OnDrop>
  [[gnu::always_inline]] bool insert_into(std::uint32_t b, const Key& key, const Value& value,
                                          OnDrop& on_drop) {
    bool evicted = false;
    std::uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = hand_;
      if (++hand_ == capacity_) hand_ = 0;  // no division on the fill path
      on_drop(slots_[slot].key, slots_[slot].value);
      unlink(slot);
      evicted = true;
    }
    // Field by field: building a Slot temporary and copying it made the compiler re-read a
    // just-stored byte with a wider load (a store-forwarding stall, half of an IOTLB fill).
    Slot& s = slots_[slot];
    s.key = key;
    s.value = value;
    s.next = index_[b];
    s.bucket = b;
    s.used = true;
    index_[b] = slot;
    ++size_;
    return evicted;
  }

 public:
  // Removes every entry for which pred(key, value) holds; returns how many.
  template <class Pred>
  std::size_t erase_if(Pred pred) {
    std::size_t n = 0;
    // Stops after the last used slot: invalidations are frequent and caches are often nearly
    // empty (slots are handed out lowest first).
    std::size_t left = size_;
    for (std::uint32_t i = 0; i < slots_.size() && left > 0; ++i) {
      Slot& s = slots_[i];
      if (!s.used) continue;
      --left;
      if (pred(s.key, s.value)) {
        unlink(i);
        s.used = false;
        free_.push_back(i);
        ++n;
      }
    }
    return n;
  }

  std::size_t clear() {
    return erase_if([](const Key&, const Value&) { return true; });
  }

  // Visits entries in slot order (deterministic). Stops at the last used slot, as erase_if does:
  // the suite snapshots the caches on every check, and they are seldom full.
  template <class Fn>
  void for_each(Fn fn) const {
    std::size_t left = size_;
    for (std::size_t i = 0; i < slots_.size() && left > 0; ++i) {
      const Slot& s = slots_[i];
      if (!s.used) continue;
      --left;
      fn(s.key, s.value);
    }
  }

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return slots_.size(); }
  // The most entries any one bucket chains (what the slowest find() walks): diagnostics and the
  // tests that the hash spreads the keys a workload produces.
  std::size_t longest_chain() const {
    std::size_t longest = 0;
    for (std::uint32_t head : index_) {
      std::size_t n = 0;
      for (std::uint32_t i = head; i != kEmpty; i = slots_[i].next) ++n;
      longest = n > longest ? n : longest;
    }
    return longest;
  }

 private:
  struct Slot {
    Key key{};
    Value value{};
    std::uint32_t next = kEmpty;  // next slot in the same bucket
    std::uint32_t bucket = 0;     // the bucket whose chain holds this slot
    bool used = false;
  };
  static constexpr std::uint32_t kEmpty = std::numeric_limits<std::uint32_t>::max();

  // The sizes are kept as members: computing them from the vectors costs a subtraction, a shift
  // and (for the 48-byte slots) a multiplication on every lookup and fill.
  std::size_t home(const Key& key) const { return Hash{}(key)&bucket_mask_; }
  Value* find_in(const Key& key, std::size_t b) {
    for (std::uint32_t i = index_[b]; i != kEmpty; i = slots_[i].next) {
      if (slots_[i].key == key) return &slots_[i].value;
    }
    return nullptr;
  }
  // Removes the used `slot` from its bucket's chain.
  void unlink(std::uint32_t slot) {
    std::uint32_t* link = &index_[slots_[slot].bucket];
    while (*link != slot) link = &slots_[*link].next;
    *link = slots_[slot].next;
    --size_;
  }

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> index_;  // bucket -> first slot of its chain, kEmpty when none
  std::size_t size_ = 0;
  std::vector<std::uint32_t> free_;
  std::size_t bucket_mask_ = 0;  // index_.size() - 1 (a power of two minus one)
  std::uint32_t capacity_ = 0;   // slots_.size()
  std::uint32_t hand_ = 0;
};

}  // namespace kniommu::hw
