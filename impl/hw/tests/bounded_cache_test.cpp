// The cache storage against a reference map: every operation sequence keeps find() exact, and
// replacement is the documented round-robin.
#include "hw/bounded_cache.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <random>

namespace kniommu::hw {
namespace {

// A deliberately bad hash (many collisions) to exercise probing and backward-shift deletion.
struct ClumpyHash {
  std::size_t operator()(std::uint32_t k) const { return k / 7; }
};

TEST(BoundedCache, MatchesAReferenceMapUnderRandomOperations) {
  constexpr std::size_t kCap = 32;
  BoundedCache<std::uint32_t, std::uint32_t, ClumpyHash> cache(kCap);
  std::map<std::uint32_t, std::uint32_t> ref;
  std::mt19937 rng(12345);
  for (int step = 0; step < 20000; ++step) {
    const std::uint32_t k = rng() % 100;
    switch (rng() % 4) {
      case 0:
      case 1: {
        if (ref.size() == kCap && ref.count(k) == 0) {
          // Full: the cache must evict exactly one entry; mirror whatever it dropped.
          ASSERT_TRUE(cache.insert(k, k * 3));
          std::map<std::uint32_t, std::uint32_t> kept;
          cache.for_each([&](std::uint32_t key, std::uint32_t v) { kept[key] = v; });
          ASSERT_EQ(kept.size(), kCap);
          ref = kept;
        } else {
          ASSERT_FALSE(cache.insert(k, k * 3));
          ref[k] = k * 3;
        }
        break;
      }
      case 2: {
        const std::size_t n =
            cache.erase_if([&](std::uint32_t key, std::uint32_t) { return key % 5 == k % 5; });
        std::size_t m = 0;
        for (auto it = ref.begin(); it != ref.end();) {
          if (it->first % 5 == k % 5) {
            it = ref.erase(it);
            ++m;
          } else {
            ++it;
          }
        }
        ASSERT_EQ(n, m);
        break;
      }
      default:
        break;
    }
    ASSERT_EQ(cache.size(), ref.size());
    // for_each visits exactly the entries, also when erased slots lie between used ones.
    std::map<std::uint32_t, std::uint32_t> visited;
    cache.for_each([&](std::uint32_t key, std::uint32_t v) { visited[key] = v; });
    ASSERT_EQ(visited, ref) << "step " << step;
    for (std::uint32_t probe = 0; probe < 100; ++probe) {
      const std::uint32_t* v = cache.find(probe);
      auto it = ref.find(probe);
      ASSERT_EQ(v != nullptr, it != ref.end()) << "key " << probe << " step " << step;
      if (v != nullptr) {
        ASSERT_EQ(*v, it->second);
      }
    }
  }
}

TEST(BoundedCache, ReplacementIsRoundRobinOverSlots) {
  BoundedCache<std::uint32_t, int, std::hash<std::uint32_t>> cache(3);
  cache.insert(1, 0);
  cache.insert(2, 0);
  cache.insert(3, 0);
  EXPECT_TRUE(cache.insert(4, 0));  // replaces slot 0 (key 1)
  EXPECT_EQ(cache.find(1), nullptr);
  EXPECT_TRUE(cache.insert(5, 0));  // slot 1 (key 2)
  EXPECT_EQ(cache.find(2), nullptr);
  EXPECT_NE(cache.find(3), nullptr);
  EXPECT_EQ(cache.clear(), 3u);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.find(4), nullptr);
}

}  // namespace
}  // namespace kniommu::hw
