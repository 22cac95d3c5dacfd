// One simulated machine running the KasperskyOS IOMMU + DMA API over VT-d: the object behind
// KnSimSystem. Every API call takes the system mutex for its whole duration (a "big kernel lock"):
// calls are linearizable by construction, and revocations cannot interleave with grants.
//
// Lock order: System::mu_ -> the remapping unit's internal lock -> SimPhysMem's allocator lock.
// Device DMA (KnSimDeviceDma) does not take mu_: it goes straight to the unit, like a real device.
// Methods named ...Locked require mu_ to be held.
//
// Every call checks in the order of docs/semantics.md; a failing call changes nothing (fallible
// allocations come first, then a commit phase that cannot fail).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "kniommu/sim.h"
#include "kos/hardware.h"
#include "kos/process.h"
#include "vtd/driver/remapping_driver.h"

namespace kniommu::kos {

class System {
 public:
  static Retcode create(const KnSimConfig& config, std::unique_ptr<System>* out);
  ~System();
  System(const System&) = delete;
  System& operator=(const System&) = delete;

  // --- Harness ---
  Retcode process_create(KnPid* out);
  Retcode process_exit(KnPid pid);
  bool iommu_enabled() const { return driver_ != nullptr; }
  Hardware& hardware() { return *hw_; }
  Retcode vm_access(KnPid pid, std::uint64_t va, void* data, std::size_t len, bool is_write);
  std::uint64_t read_reg64(std::uint32_t offset);

  // --- iommu_api.h (caller = pid) ---
  Retcode attach_device(KnPid pid, std::uint16_t bdf);
  Retcode detach_device(KnPid pid, std::uint16_t bdf);
  Retcode create_domain(KnPid pid, Handle* out);
  Retcode attach_device_to_domain(KnPid pid, std::uint16_t bdf, Handle domain);
  Retcode detach_device_from_domain(KnPid pid, std::uint16_t bdf, Handle domain);

  // --- dma.h / handle.h ---
  Retcode dma_create(KnPid pid, std::uint32_t order, std::size_t size, std::uint32_t flags,
                     Handle* out);
  Retcode dma_create_continuous(KnPid pid, std::size_t size, std::uint32_t flags, Handle* out);
  Retcode dma_map(KnPid pid, Handle rid, std::size_t offset, std::size_t length, void* hint,
                  int vmflags, void** addr, Handle* out);
  Retcode dma_begin(KnPid pid, Handle rid, Handle* out);
  Retcode dma_begin_ex(KnPid pid, Handle rid, Handle domain, Handle* out);
  // `physical`: KnIoDmaGetPhysInfo; otherwise KnIoDmaGetInfo. *out is malloc()ed.
  Retcode dma_info(KnPid pid, Handle h, bool physical, void** out);
  Retcode handle_close(KnPid pid, Handle h);

  // --- Introspection for tests (takes the lock) ---
  struct Digest {
    std::uint64_t frames_in_use = 0;
    std::uint64_t dids_in_use = 0;
    std::uint64_t value = 0;  // hash of handle tables, DIDs, IOVA ranges and present table entries
    bool operator==(const Digest&) const = default;
  };
  Digest digest();

 private:
  System(const KnSimConfig& config, std::unique_ptr<Hardware> hw);

  Process* process_locked(KnPid pid);

  // Domains (iommu_calls.cpp)
  Retcode new_domain_locked(Process& p, bool automatic, std::unique_ptr<Domain>* out);
  // Takes the lock, runs checks 1-2 of AttachDevice/DetachDevice, then fn(caller, device's domain).
  template <class Fn>
  Retcode device_call(KnPid pid, std::uint16_t bdf, Fn&& fn);
  // Checks 1-3 of Attach/DetachDeviceToDomain; *d = nullptr with rcOk when the IOMMU is disabled.
  Retcode domain_call_prefix_locked(KnPid pid, std::uint16_t bdf, Handle domain, Domain** d);
  Retcode attach_locked(Domain& d, std::uint16_t bdf);
  // `flush_iotlb` = false: domain teardown, whose final DSI covers the IOTLB.
  void detach_locked(Domain& d, std::uint16_t bdf, bool flush_iotlb = true);

  // Buffers and grants (dma_calls.cpp)
  Retcode new_buffer_locked(Process& p, std::uint32_t order, std::size_t size, std::uint32_t flags,
                            Handle* out);
  Retcode new_grant_locked(Process& p, Buffer& b, Domain* d, Handle* out);

  // Teardown (teardown.cpp)
  void close_entry_locked(Process& p, Handle h);
  void close_grant_locked(Process& p, Grant& g);
  void destroy_domain_locked(Domain& d);
  void exit_locked(Process& p);
  void unref_buffer_locked(Buffer& b);
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
  // GrantSurvivesExit mutant (teardown_mutants.cpp): exit that leaves its domains' grants mapped.
  void exit_leaving_grants_mapped_locked(Process& p);
#endif

  std::mutex mu_;
  KnSimConfig config_;
  std::unique_ptr<Hardware> hw_;
  std::unique_ptr<vtd::driver::RemappingDriver> driver_;  // null: IOMMU disabled
  vtd::PageTableConfig pt_config_;  // every domain's table: from CAP/ECAP, as a kernel would
  std::map<KnPid, std::unique_ptr<Process>> processes_;
  std::map<const Buffer*, std::unique_ptr<Buffer>> buffers_;
  std::map<std::uint16_t, Domain*> attachment_;  // every known BDF -> its domain (or nullptr)
#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
  // GrantSurvivesExit mutant only: domains the buggy exit leaves mapped. The hardware keeps walking
  // their tables; the host objects stay owned here (freed with the system, before hw_), so the
  // injected bug is a hardware-visible leak, not a host memory leak for LeakSanitizer to report.
  std::vector<std::unique_ptr<Domain>> mutant_leftover_domains_;
#endif
  KnPid next_pid_ = 1;
  std::uint32_t domains_alive_ = 0;
  std::uint32_t max_domains_ = 0;  // usable DIDs: 2^(4 + 2*ND) - 1
};

}  // namespace kniommu::kos
