// Domain-ID allocator of one remapping unit. DID 0 is never handed out: under CM=1 the hardware
// tags cached not-present entries with DID 0 (VT-d spec §6.1; Xen b111a41acd,
// asterinas #3920), and reserving it always keeps the policy independent of CM. The lowest free
// DID >= 1 is returned, deterministically, so reuse happens early and reuse bugs show up in tests.
// Releasing a DID is the caller's promise that a domain-selective IOTLB invalidation for it has
// completed (RemappingDriver::release_did enforces that order).
#pragma once

#include <cstdint>
#include <vector>

#include "kniommu/retcode.h"

namespace kniommu::vtd::driver {

class DomainIdAllocator {
 public:
  // `count` = 2^(4 + 2 * CAP.ND) usable IDs (0 .. count-1), of which 0 is reserved.
  explicit DomainIdAllocator(std::uint32_t count);

  // rcOutOfMemory when all IDs are in use (or the fail-nth injection point fires).
  Retcode allocate(std::uint16_t* out);
  void release(std::uint16_t did);
  bool in_use(std::uint16_t did) const;
  std::uint32_t allocated() const { return allocated_; }
  std::uint32_t capacity() const { return count_ > 0 ? count_ - 1 : 0; }

 private:
  std::uint32_t count_;
  std::vector<std::uint64_t> used_;  // bit per DID
  std::uint32_t first_maybe_free_word_ = 0;
  std::uint32_t allocated_ = 0;
};

}  // namespace kniommu::vtd::driver
