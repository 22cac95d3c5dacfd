#include "hw/caches.h"

#include "vtd/formats.h"

namespace kniommu::hw {
namespace {

// The invalidated range of a page-selective request: ADDR with its low AM page bits ignored.
struct Range {
  std::uint64_t base;
  std::uint64_t len;
};
Range psi_range(std::uint64_t addr, unsigned am) {
  const std::uint64_t len = std::uint64_t{1} << (12 + am);
  return {addr & ~(len - 1), len};
}

constexpr std::uint8_t kTtPassThrough =
    static_cast<std::uint8_t>(vtd::TranslationType::kPassThrough);

void count_ref(FrameRefs* refs, PhysAddr pa, unsigned shift, int delta) {
  if (delta > 0) {
    refs->add(pa, shift);
  } else {
    refs->remove(pa, shift);
  }
}

}  // namespace

void ContextCache::count(const ContextInfo& c, int delta) const {
  if (refs_ != nullptr && c.present && c.tt != kTtPassThrough) {
    count_ref(refs_, c.slptptr, 12, delta);
  }
}

template <class Pred>
std::size_t ContextCache::erase_if(Pred pred) {
  memo_ = nullptr;
  return cache_.erase_if([&](std::uint16_t sid, const ContextInfo& c) {
    if (!pred(sid, c)) return false;
    count(c, -1);
    return true;
  });
}

bool ContextCache::insert(std::uint16_t sid, const ContextInfo& ctx) {
  memo_ = nullptr;
  count(ctx, +1);
  return cache_.insert(sid, ctx, [this](std::uint16_t, const ContextInfo& old) { count(old, -1); });
}

std::size_t ContextCache::invalidate_all() {
  return erase_if([](std::uint16_t, const ContextInfo&) { return true; });
}

std::size_t ContextCache::invalidate_domain(std::uint16_t did) {
  return erase_if([did](std::uint16_t, const ContextInfo& c) { return c.did == did; });
}

std::size_t ContextCache::invalidate_device(std::uint16_t sid, unsigned fm, std::uint16_t did) {
  const std::uint16_t ignore = static_cast<std::uint16_t>(fm == 0 ? 0 : (0x7u << (3 - fm)) & 0x7u);
  return erase_if([=](std::uint16_t s, const ContextInfo& c) {
    return (s & ~ignore) == (sid & ~ignore) && c.did == did;
  });
}

const IotlbEntry* Iotlb::find_superpage(std::uint16_t did, std::uint64_t iova, unsigned* shift) {
  for (unsigned s : {21u, 30u}) {
    if (const IotlbEntry* e = cache_.find(IotlbKey{did, static_cast<std::uint8_t>(s), iova >> s})) {
      *shift = s;
      return e;
    }
  }
  return nullptr;
}

template <class Pred>
std::size_t Iotlb::erase_if(Pred pred) {
  return cache_.erase_if([&](const IotlbKey& k, const IotlbEntry& e) {
    if (!pred(k, e)) return false;
    count(k, e, -1);
    return true;
  });
}

bool Iotlb::insert(std::uint16_t did, std::uint64_t iova, unsigned shift, const IotlbEntry& e) {
  const IotlbKey key{did, static_cast<std::uint8_t>(shift), iova >> shift};
  count(key, e, +1);
  return cache_.insert(key, e,
                       [this](const IotlbKey& k, const IotlbEntry& old) { count(k, old, -1); });
}

std::size_t Iotlb::invalidate_all() {
  return erase_if([](const IotlbKey&, const IotlbEntry&) { return true; });
}

std::size_t Iotlb::invalidate_domain(std::uint16_t did) {
  return erase_if([did](const IotlbKey& k, const IotlbEntry&) { return k.did == did; });
}

std::size_t Iotlb::invalidate_pages(std::uint16_t did, std::uint64_t addr, unsigned am) {
  const Range r = psi_range(addr, am);
  return erase_if([&](const IotlbKey& k, const IotlbEntry&) {
    return k.did == did && overlaps(k.vpn << k.shift, k.shift, r.base, r.len);
  });
}

void PagingStructureCache::count(const PscEntry& e, int delta) const {
  if (refs_ != nullptr) count_ref(refs_, e.next_table, 12, delta);
}

template <class Pred>
std::size_t PagingStructureCache::erase_if(Pred pred) {
  return cache_.erase_if([&](const IotlbKey& k, const PscEntry& e) {
    if (!pred(k, e)) return false;
    count(e, -1);
    return true;
  });
}

bool PagingStructureCache::insert(std::uint16_t did, unsigned level, std::uint64_t iova,
                                  const PscEntry& e) {
  count(e, +1);
  return cache_.insert(IotlbKey{did, static_cast<std::uint8_t>(level), iova >> shift_of(level)}, e,
                       [this](const IotlbKey&, const PscEntry& old) { count(old, -1); });
}

std::size_t PagingStructureCache::invalidate_all() {
  return erase_if([](const IotlbKey&, const PscEntry&) { return true; });
}

std::size_t PagingStructureCache::invalidate_domain(std::uint16_t did) {
  return erase_if([did](const IotlbKey& k, const PscEntry&) { return k.did == did; });
}

std::size_t PagingStructureCache::invalidate_range(std::uint16_t did, std::uint64_t addr,
                                                   unsigned am) {
  const Range r = psi_range(addr, am);
  return erase_if([&](const IotlbKey& k, const PscEntry&) {
    const unsigned s = shift_of(k.shift);
    return k.did == did && overlaps(k.vpn << s, s, r.base, r.len);
  });
}

std::vector<PscEntry> PagingStructureCache::entries_in_range(std::uint16_t did, std::uint64_t addr,
                                                             unsigned am) const {
  const Range r = psi_range(addr, am);
  std::vector<PscEntry> out;
  cache_.for_each([&](const IotlbKey& k, const PscEntry& e) {
    const unsigned s = shift_of(k.shift);
    if (k.did == did && overlaps(k.vpn << s, s, r.base, r.len)) out.push_back(e);
  });
  return out;
}

bool PagingStructureCache::references(PhysAddr pa, std::uint64_t len) const {
  bool hit = false;
  cache_.for_each([&](const IotlbKey&, const PscEntry& e) {
    hit = hit || (e.next_table >= pa && e.next_table < pa + len);
  });
  return hit;
}

}  // namespace kniommu::hw
