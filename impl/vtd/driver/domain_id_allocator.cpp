#include "vtd/driver/domain_id_allocator.h"

#include <bit>

#include "common/failpoint.h"

namespace kniommu::vtd::driver {

DomainIdAllocator::DomainIdAllocator(std::uint32_t count)
    : count_(count > 65536 ? 65536 : count), used_((count_ + 63) / 64, 0) {
  if (!used_.empty()) used_[0] |= 1;  // DID 0 reserved
  // Bits past count_ in the last word are marked used so the search never returns them.
  if (count_ % 64 != 0) used_.back() |= ~((std::uint64_t{1} << (count_ % 64)) - 1);
}

Retcode DomainIdAllocator::allocate(std::uint16_t* out) {
  if (failpoint_hit()) return rcOutOfMemory;
  for (std::uint32_t w = first_maybe_free_word_; w < used_.size(); ++w) {
    if (used_[w] == ~std::uint64_t{0}) continue;
    const unsigned bit = static_cast<unsigned>(std::countr_one(used_[w]));
    used_[w] |= std::uint64_t{1} << bit;
    first_maybe_free_word_ = w;
    ++allocated_;
    *out = static_cast<std::uint16_t>(w * 64 + bit);
    return rcOk;
  }
  first_maybe_free_word_ = static_cast<std::uint32_t>(used_.size());
  return rcOutOfMemory;
}

void DomainIdAllocator::release(std::uint16_t did) {
  if (did == 0 || did >= count_ || !in_use(did)) return;
  used_[did / 64] &= ~(std::uint64_t{1} << (did % 64));
  --allocated_;
  if (did / 64 < first_maybe_free_word_) first_maybe_free_word_ = did / 64;
}

bool DomainIdAllocator::in_use(std::uint16_t did) const {
  return did < count_ && ((used_[did / 64] >> (did % 64)) & 1) != 0;
}

}  // namespace kniommu::vtd::driver
