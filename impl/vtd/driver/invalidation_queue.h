// The queued-invalidation (QI) ring: descriptors are written into a 4 KiB ring in physical memory,
// IQT is bumped, and every submission ends with an invalidation-wait descriptor (SW=1) whose status
// write the driver polls for. Submissions are synchronous: submit_and_wait() returns only after the
// hardware reported completion, so anything freed afterwards can no longer be in use by the unit.
//
// Each wait carries a fresh sequence number as its status data, so a completion is never confused
// with an earlier one, and a wait is never abandoned (Xen XSA-373: timing out and reusing the
// status slot let a late completion be mistaken for a later one).
//
// Not thread-safe: callers hold the driver's lock (methods named ...Locked at the driver level).
#pragma once

#include <cstdint>
#include <span>

#include "kniommu/retcode.h"
#include "vtd/mmio.h"
#include "vtd/phys_mem.h"

namespace kniommu::vtd::driver {

// One 128-bit legacy descriptor.
struct QiDescriptor {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
};

class InvalidationQueue {
 public:
  // 2^(QS + 8) 16-byte entries with QS = 0: 256 entries in one frame.
  static constexpr std::uint32_t kEntries = 256;

  InvalidationQueue(Mmio& mmio, PhysMem& mem) : mmio_(mmio), mem_(mem) {}
  ~InvalidationQueue();
  InvalidationQueue(const InvalidationQueue&) = delete;
  InvalidationQueue& operator=(const InvalidationQueue&) = delete;

  // Allocates the ring and the status slot, programs IQA and enables QI (GCMD.QIE, wait QIES).
  // `gcmd_shadow` holds the persistent GCMD bits; QIE is added to it.
  Retcode enable(std::uint32_t* gcmd_shadow);

  // Queues `descs` followed by a wait descriptor and returns once the wait's status write is seen.
  // At most kEntries - 2 descriptors per call (one slot stays free, one holds the wait).
  void submit_and_wait(std::span<const QiDescriptor> descs);

  std::uint64_t submissions() const { return submissions_; }

 private:
  void push(const QiDescriptor& d);

  Mmio& mmio_;
  PhysMem& mem_;
  PhysAddr ring_ = 0;
  PhysAddr status_ = 0;
  std::uint32_t tail_ = 0;      // next free entry index
  std::uint32_t sequence_ = 0;  // status data of the last wait issued
  std::uint64_t submissions_ = 0;
};

}  // namespace kniommu::vtd::driver
