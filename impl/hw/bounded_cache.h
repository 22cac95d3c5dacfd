// A fixed-capacity associative cache with deterministic replacement, the storage behind the
// emulated context cache, IOTLB and paging-structure cache. Entries live in a slot array indexed by
// a hash map; when every slot is taken the slot under a round-robin "clock hand" is replaced, so a
// given sequence of fills always evicts the same entries (runs are reproducible).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace kniommu::hw {

template <class Key, class Value, class Hash>
class BoundedCache {
 public:
  explicit BoundedCache(std::size_t capacity) : slots_(capacity == 0 ? 1 : capacity) {
    index_.reserve(slots_.size() * 2);
    for (std::size_t i = slots_.size(); i > 0; --i) free_.push_back(static_cast<std::uint32_t>(i - 1));
  }

  Value* find(const Key& key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &slots_[it->second].value;
  }

  // Inserts or replaces; returns true when a different entry had to be evicted to make room.
  bool insert(const Key& key, const Value& value) {
    if (auto it = index_.find(key); it != index_.end()) {
      slots_[it->second].value = value;
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
      index_.erase(slots_[slot].key);
      evicted = true;
    }
    slots_[slot] = Slot{key, value, true};
    index_.emplace(key, slot);
    return evicted;
  }

  // Removes every entry for which pred(key, value) holds; returns how many.
  template <class Pred>
  std::size_t erase_if(Pred pred) {
    std::size_t n = 0;
    for (std::uint32_t i = 0; i < slots_.size(); ++i) {
      Slot& s = slots_[i];
      if (s.used && pred(s.key, s.value)) {
        index_.erase(s.key);
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

  std::size_t size() const { return index_.size(); }
  std::size_t capacity() const { return slots_.size(); }

 private:
  struct Slot {
    Key key{};
    Value value{};
    bool used = false;
  };
  std::vector<Slot> slots_;
  std::unordered_map<Key, std::uint32_t, Hash> index_;
  std::vector<std::uint32_t> free_;
  std::uint32_t hand_ = 0;
};

}  // namespace kniommu::hw
