#include "vtd/driver/invalidation_queue.h"

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "vtd/driver/descriptors.h"
#include "vtd/driver/registers.h"

namespace kniommu::vtd::driver {

InvalidationQueue::~InvalidationQueue() {
  // The queue is torn down together with the unit (the system is being destroyed), so no further
  // descriptor can be fetched from these frames.
  if (ring_ != 0) mem_.free_frame(ring_);
  if (status_ != 0) mem_.free_frame(status_);
}

Retcode InvalidationQueue::enable(std::uint32_t* gcmd_shadow) {
  PhysAddr ring = 0;
  PhysAddr status = 0;
  if (Retcode rc = mem_.alloc_frame(&ring); rc != rcOk) return rc;
  if (Retcode rc = mem_.alloc_frame(&status); rc != rcOk) {
    mem_.free_frame(ring);
    return rc;
  }
  ring_ = ring;
  status_ = status;
  tail_ = 0;
  mmio_.write64(reg::kIqt, 0);
  mmio_.write64(reg::kIqa, ring_);  // DW = 0 (128-bit descriptors), QS = 0 (256 entries)
  *gcmd_shadow |= gcmd::kQie;
  mmio_.write32(reg::kGcmd, *gcmd_shadow);
  while ((mmio_.read32(reg::kGsts) & gcmd::kQie) == 0) std::this_thread::yield();
  return rcOk;
}

void InvalidationQueue::push(const QiDescriptor& d) {
  const PhysAddr slot = ring_ + std::uint64_t{tail_} * 16;
  mem_.write64(slot, d.lo);
  mem_.write64(slot + 8, d.hi);
  tail_ = (tail_ + 1) % kEntries;
}

void InvalidationQueue::submit_and_wait(std::span<const QiDescriptor> descs) {
  if (descs.size() > kEntries - 2) std::abort();  // a caller bug: batches are a few descriptors
  // Every previous submission was waited for, so the ring is empty here (head == tail).
  const std::uint32_t seq = ++sequence_;
  for (const QiDescriptor& d : descs) push(d);
  push(desc::wait_with_status(status_, seq));
  ++submissions_;
  mmio_.write64(reg::kIqt, std::uint64_t{tail_} << 4);
  // Poll the status slot; the emulated unit completes synchronously, real hardware in
  // microseconds. An invalidation-queue error means the driver built a bad descriptor: the
  // hardware stops fetching, nothing can be revoked any more, and continuing would silently leave
  // stale translations; stop loudly instead.
  for (;;) {
    std::uint32_t value = 0;
    mem_.read(status_, &value, sizeof value);
    if (value == seq) break;
    if ((mmio_.read32(reg::kFsts) & fsts::kIqe) != 0) {
      std::fprintf(stderr, "kniommu: invalidation queue error (IQE); driver bug\n");
      std::abort();
    }
    std::this_thread::yield();
  }
}

}  // namespace kniommu::vtd::driver
