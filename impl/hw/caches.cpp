#include "hw/caches.h"

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

}  // namespace

std::size_t ContextCache::invalidate_domain(std::uint16_t did) {
  return cache_.erase_if([did](std::uint16_t, const ContextInfo& c) { return c.did == did; });
}

std::size_t ContextCache::invalidate_device(std::uint16_t sid, unsigned fm, std::uint16_t did) {
  const std::uint16_t ignore = static_cast<std::uint16_t>(fm == 0 ? 0 : (0x7u << (3 - fm)) & 0x7u);
  return cache_.erase_if([=](std::uint16_t s, const ContextInfo& c) {
    return (s & ~ignore) == (sid & ~ignore) && c.did == did;
  });
}

const IotlbEntry* Iotlb::find(std::uint16_t did, std::uint64_t iova, unsigned* shift) {
  for (unsigned s : {12u, 21u, 30u}) {
    if (const IotlbEntry* e = cache_.find(IotlbKey{did, static_cast<std::uint8_t>(s), iova >> s})) {
      *shift = s;
      return e;
    }
  }
  return nullptr;
}

bool Iotlb::insert(std::uint16_t did, std::uint64_t iova, unsigned shift, const IotlbEntry& e) {
  return cache_.insert(IotlbKey{did, static_cast<std::uint8_t>(shift), iova >> shift}, e);
}

std::size_t Iotlb::invalidate_domain(std::uint16_t did) {
  return cache_.erase_if([did](const IotlbKey& k, const IotlbEntry&) { return k.did == did; });
}

std::size_t Iotlb::invalidate_pages(std::uint16_t did, std::uint64_t addr, unsigned am) {
  const Range r = psi_range(addr, am);
  return cache_.erase_if([&](const IotlbKey& k, const IotlbEntry&) {
    return k.did == did && overlaps(k.vpn << k.shift, k.shift, r.base, r.len);
  });
}

std::size_t PagingStructureCache::invalidate_domain(std::uint16_t did) {
  return cache_.erase_if([did](const IotlbKey& k, const PscEntry&) { return k.did == did; });
}

std::size_t PagingStructureCache::invalidate_range(std::uint16_t did, std::uint64_t addr,
                                                   unsigned am) {
  const Range r = psi_range(addr, am);
  return cache_.erase_if([&](const IotlbKey& k, const PscEntry&) {
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
