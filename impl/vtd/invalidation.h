// Invalidation helpers: the pending-invalidation record an unmap fills (range, IH, table frames to
// free afterwards), the page-selective address/mask computation, and encoders for the legacy
// queued-invalidation descriptors (built from the layouts of formats.h). VT-d spec §6.5, §6.1.
#pragma once

#include <cstdint>

#include "vtd/address_math.h"
#include "vtd/entries.h"
#include "vtd/phys_mem.h"

namespace kniommu::vtd {

// What an unmap changed and what must wait for the invalidation (Linux iommu_iotlb_gather, Xen
// flush_flags + iommu_queue_free_pgtable, Fuchsia PendingTlbInvalidation).
// Table frames are chained through their own word 0 (each holds the next frame's address, 0 ends
// the chain): no heap is needed, and because a frame address has its low 12 bits clear the word
// reads as a not-present entry to a walker that still has the unlinked table cached.
class PendingInvalidation {
 public:
  // Nothing was unmapped: no invalidation is needed.
  bool empty() const { return !has_range_; }
  // Inclusive byte range whose translations changed (valid when !empty()).
  std::uint64_t first_iova() const { return first_; }
  std::uint64_t last_iova() const { return last_; }
  // True when only leaf entries changed, so the invalidation may set IH=1. False once a table was
  // unlinked: paging-structure caches must be invalidated too (IH=0).
  bool leaf_only() const { return leaf_only_; }
  std::uint64_t frame_count() const { return frame_count_; }
  PhysAddr frames_head() const { return frames_; }

  void add_range(std::uint64_t first, std::uint64_t last) {
    if (!has_range_) {
      first_ = first;
      last_ = last;
      has_range_ = true;
      return;
    }
    if (first < first_) first_ = first;
    if (last > last_) last_ = last;
  }
  void mark_non_leaf() { leaf_only_ = false; }
  // Queues `frame` (a table page already unlinked from the tree) for freeing after invalidation.
  void push_frame(PhysMem& mem, PhysAddr frame) {
    mem.write64(frame, frames_);
    frames_ = frame;
    ++frame_count_;
    leaf_only_ = false;
  }
  // Hands the chain over (the caller frees it) and resets the record.
  PhysAddr take_frames() {
    const PhysAddr head = frames_;
    *this = PendingInvalidation{};
    return head;
  }

 private:
  std::uint64_t first_ = 0;
  std::uint64_t last_ = 0;
  bool has_range_ = false;
  bool leaf_only_ = true;
  PhysAddr frames_ = 0;
  std::uint64_t frame_count_ = 0;
};

// Page-selective invalidation covering the page frames [first_pfn, last_pfn]: the smallest
// naturally aligned 2^am-page block containing them (address_math.h psi_mask), or a
// domain-selective invalidation when am would exceed MAMV.
struct PsiRange {
  bool page_selective = false;  // false: use a domain-selective invalidation
  std::uint64_t addr = 0;       // byte address of the block (aligned to 2^(am+12))
  unsigned am = 0;
};
PsiRange psi_for_range(std::uint64_t first_pfn, std::uint64_t last_pfn, unsigned mamv);

// The IOTLB invalidation a pending record needs on a unit with these capabilities.
struct IotlbInvalidation {
  Granularity granularity = Granularity::kDomain;
  std::uint64_t addr = 0;  // page-selective only
  unsigned am = 0;         // page-selective only
  bool ih = false;         // page-selective only: leaf-only hint
};
IotlbInvalidation iotlb_invalidation_for(const PendingInvalidation& p, bool psi_supported,
                                         unsigned mamv);

// ---- Queued-invalidation descriptor encoders (legacy 128-bit) ----
ContextCacheDesc cc_global_desc();
ContextCacheDesc cc_domain_desc(std::uint16_t did);
// fm: function mask (0 none, 1..3 mask SID bits 2, 2:1, 2:0).
ContextCacheDesc cc_device_desc(std::uint16_t did, std::uint16_t sid, unsigned fm);
IotlbDesc iotlb_global_desc(bool drain_reads, bool drain_writes);
IotlbDesc iotlb_domain_desc(std::uint16_t did, bool drain_reads, bool drain_writes);
IotlbDesc iotlb_page_desc(std::uint16_t did, std::uint64_t addr, unsigned am, bool ih,
                          bool drain_reads, bool drain_writes);
IotlbDesc iotlb_desc(std::uint16_t did, const IotlbInvalidation& inv, bool drain_reads,
                     bool drain_writes);
// Status write of `data` to `status_pa` (4-byte aligned) when all earlier descriptors completed.
WaitDesc wait_desc(PhysAddr status_pa, std::uint32_t data, bool interrupt = false,
                   bool fence = true);

}  // namespace kniommu::vtd
