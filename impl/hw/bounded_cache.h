// A fixed-capacity associative cache with deterministic replacement, the storage behind the
// emulated context cache, IOTLB and paging-structure cache. Entries live in a slot array indexed by
// an open-addressing hash table (linear probing, backward-shift deletion: no allocation after
// construction, which keeps an IOTLB miss-and-fill cheap); when every slot is taken the slot under
// a round-robin "clock hand" is replaced, so a given sequence of fills always evicts the same
// entries (runs are reproducible).
#pragma once

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
    for (std::size_t i = slots_.size(); i > 0; --i)
      free_.push_back(static_cast<std::uint32_t>(i - 1));
  }

  Value* find(const Key& key) {
    const std::size_t b = bucket_of(key);
    return index_[b] == kEmpty ? nullptr : &slots_[index_[b]].value;
  }

  // Inserts or replaces; returns true when a different entry had to be evicted to make room.
  bool insert(const Key& key, const Value& value) {
    return insert(key, value, [](const Key&, const Value&) {});
  }
  // The same, calling on_drop(key, value) for the entry that leaves: the replaced or the evicted.
  template <class OnDrop>
  bool insert(const Key& key, const Value& value, OnDrop&& on_drop) {
    if (Value* v = find(key)) {
      on_drop(key, *v);
      *v = value;
      return false;
    }
    bool evicted = false;
    std::uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = hand_;
      hand_ = static_cast<std::uint32_t>((hand_ + 1) % slots_.size());
      on_drop(slots_[slot].key, slots_[slot].value);
      unindex(slots_[slot].key);
      evicted = true;
    }
    slots_[slot] = Slot{key, value, true};
    index_[bucket_of(key)] = slot;  // the probe stops at the empty bucket the key belongs in
    ++size_;
    return evicted;
  }

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
        unindex(s.key);
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

  // Visits entries in slot order (deterministic).
  template <class Fn>
  void for_each(Fn fn) const {
    for (const Slot& s : slots_) {
      if (s.used) fn(s.key, s.value);
    }
  }

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return slots_.size(); }

 private:
  struct Slot {
    Key key{};
    Value value{};
    bool used = false;
  };
  static constexpr std::uint32_t kEmpty = std::numeric_limits<std::uint32_t>::max();

  std::size_t home(const Key& key) const { return Hash{}(key) & (index_.size() - 1); }
  // The bucket holding `key`, or the empty bucket where its probe sequence ends.
  std::size_t bucket_of(const Key& key) const {
    const std::size_t mask = index_.size() - 1;
    std::size_t b = home(key);
    while (index_[b] != kEmpty && !(slots_[index_[b]].key == key)) b = (b + 1) & mask;
    return b;
  }
  // Removes `key` (present) from the index, shifting later members of its cluster back so every
  // remaining key stays reachable from its home bucket.
  void unindex(const Key& key) {
    const std::size_t mask = index_.size() - 1;
    std::size_t hole = bucket_of(key);
    for (std::size_t j = (hole + 1) & mask; index_[j] != kEmpty; j = (j + 1) & mask) {
      const std::size_t h = home(slots_[index_[j]].key);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (!stays) {
        index_[hole] = index_[j];
        hole = j;
      }
    }
    index_[hole] = kEmpty;
    --size_;
  }

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> index_;  // bucket -> slot, kEmpty when free
  std::size_t size_ = 0;
  std::vector<std::uint32_t> free_;
  std::uint32_t hand_ = 0;
};

}  // namespace kniommu::hw
