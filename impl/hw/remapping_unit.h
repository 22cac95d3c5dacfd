// The emulated VT-d remapping unit (legacy mode). Driver code reaches it only through vtd::Mmio;
// devices reach it through translate()/translate_range() (see pcie_bus.h). It walks the bytes the
// driver wrote into SimPhysMem, through a context cache, an IOTLB and a paging-structure cache that
// stay stale until the driver invalidates them (queued invalidation or the CCMD/IOTLB registers),
// and records faults in its fault-recording registers. docs/emulator.md describes what is and is
// not modelled.
//
// Locking: one lock (mu_, a UnitLock) guards all unit state. Lock order: RemappingUnit::mu_ may be
// taken while no SimPhysMem lock is held; SimPhysMem calls on_frames_freed() with none of its
// locks held, and the unit never allocates or frees frames, so the two never nest the other way.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hw/caches.h"
#include "hw/fault_reason.h"
#include "hw/frame_refs.h"
#include "hw/protocol_violations.h"
#include "hw/reach_index.h"
#include "hw/reg_file.h"
#include "hw/sim_phys_mem.h"
#include "hw/unit_config.h"
#include "hw/walker.h"
#include "kniommu/sim.h"
#include "vtd/formats.h"
#include "vtd/mmio.h"

namespace kniommu::hw {

struct UnitStats {
  std::uint64_t translations = 0;  // translate requests with TE on (per page)
  std::uint64_t untranslated = 0;  // requests with TE off (pass to physical)
  std::uint64_t iotlb_hits = 0;
  std::uint64_t iotlb_misses = 0;
  std::uint64_t context_hits = 0;
  std::uint64_t context_misses = 0;
  std::uint64_t psc_entries_now = 0;  // snapshot of the paging-structure cache's size
  std::uint64_t faults_recorded = 0;
  std::uint64_t faults_suppressed = 0;  // qualified faults of FPD=1 contexts
  std::uint64_t faults_dropped = 0;     // PFO set or the next record still full
  std::uint64_t fault_events = 0;       // fault interrupts raised (FECTL.IM clear) or pended
  std::uint64_t cc_global = 0, cc_domain = 0, cc_device = 0;
  std::uint64_t iotlb_global = 0, iotlb_domain = 0, iotlb_page = 0;
  std::uint64_t wait_descriptors = 0;
  std::uint64_t queue_errors = 0;                    // FSTS.IQE raised
  std::uint64_t register_invalidations_refused = 0;  // CCMD/IOTLB register used while QI is on
  std::uint64_t write_buffer_flushes = 0;
};

// One piece of a translated request: `len` bytes at physical `pa`, inside one 4 KiB page.
struct DmaChunk {
  PhysAddr pa = 0;
  std::uint64_t len = 0;
};

// The unit's lock: a mutex whose uncontended use by one thread costs no atomic read-modify-write
// (biased locking). The first thread to take it becomes its owner and from then on enters with a
// plain store of `busy_` and a load of `revoked_`; every request of a single-threaded user (a
// test, a benchmark, a device model driven from one thread) takes that path. The first time any
// other thread takes it, that thread revokes the bias for good, under `mu_`: it sets `revoked_`,
// makes every thread of the process execute a full memory barrier (membarrier(2), private
// expedited), and waits until the owner is not inside a section (busy_ clear, acquire). The
// barrier is what makes the owner's plain store-then-load safe (the asymmetric Dekker pattern of
// liburcu and folly): either the owner's load sees `revoked_` and it takes `mu_`, or its store of
// `busy_` is visible to the revoker, which waits. From then on everybody uses `mu_`. Where
// membarrier is unavailable no owner is ever granted and the lock is the plain mutex.
// ThreadSanitizer sees every hand-over as a release/acquire pair (busy_) or the mutex.
// BasicLockable (std::lock_guard / std::unique_lock), not recursive.
class UnitLock {
 public:
  UnitLock() = default;
  UnitLock(const UnitLock&) = delete;
  UnitLock& operator=(const UnitLock&) = delete;

  void lock() {
    if (!try_lock_biased()) lock_slow();
  }
  // The owner's entry alone: true when this thread owns the bias and entered (unlock() releases
  // as after lock()); false, holding nothing, otherwise. No call, so a caller whose common case
  // is short (a request the IOTLB front answers) needs no stack frame for it.
  bool try_lock_biased() {
    // The thread's token as it is (a thread without one yet is not the owner; lock_slow() gives
    // it one), so that this path has no call.
    const std::uint64_t token = token_;
    if (token == 0 || owner_.load(std::memory_order_relaxed) != token) return false;
    busy_.store(true, std::memory_order_relaxed);
    // Only the compiler must keep the store before the load; the revoker's membarrier orders
    // them on the hardware.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (!revoked_.load(std::memory_order_relaxed)) [[likely]] {
      biased_ = true;
      return true;
    }
    // Release, like unlock(): a revoker waiting for busy_ may read this store rather than the
    // previous unlock's, and since C++20 a release sequence holds only read-modify-writes, so a
    // relaxed store here would not order this thread's earlier sections before its own.
    busy_.store(false, std::memory_order_release);
    return false;
  }
  void unlock() {
    if (biased_) {
      unlock_biased();
      return;
    }
    mu_.unlock();
  }
  // unlock() after a try_lock_biased() that returned true.
  void unlock_biased() {
    biased_ = false;
    busy_.store(false, std::memory_order_release);
  }
  // This thread owns the bias (tests).
  bool biased_to_this_thread() const {
    return owner_.load(std::memory_order_relaxed) == self() &&
           !revoked_.load(std::memory_order_relaxed);
  }

 private:
  // A number no other thread has or had, assigned on a thread's first use (0 = none yet).
  static std::uint64_t self() {
    if (token_ == 0) [[unlikely]]
      token_ = new_token();
    return token_;
  }
  static std::uint64_t new_token();
  // mu_, then: the first thread becomes the owner; any other thread revokes the bias.
  void lock_slow();

  // constinit: no dynamic initialisation, so no TLS wrapper call on the fast path. Initial-exec:
  // the library is built position-independent, where the default (general-dynamic) model makes
  // every access a call of __tls_get_addr as far as the compiler knows (the linker relaxes it
  // only afterwards), so every caller of try_lock_biased() saved its registers around a call
  // that never happens. One 8-byte variable fits glibc's static TLS reserve when the library is
  // loaded with dlopen (an adapter).
  [[gnu::tls_model("initial-exec")]] static inline constinit thread_local std::uint64_t token_ = 0;
  std::mutex mu_;
  std::atomic<std::uint64_t> owner_{0};  // written once, under mu_
  std::atomic<bool> revoked_{false};     // written once, under mu_
  std::atomic<bool> busy_{false};        // the owner is inside a section entered without mu_
  // Written and read only by the current holder: how the section was entered.
  bool biased_ = false;
};

class RemappingUnit final : public vtd::Mmio, public FrameFreeListener {
 public:
  // Registers itself as `mem`'s free listener for its lifetime (when detect_use_after_free).
  RemappingUnit(const UnitConfig& config, SimPhysMem& mem);
  ~RemappingUnit() override;
  RemappingUnit(const RemappingUnit&) = delete;
  RemappingUnit& operator=(const RemappingUnit&) = delete;

  // vtd::Mmio: the driver's only way in.
  std::uint32_t read32(std::uint32_t offset) override;
  std::uint64_t read64(std::uint32_t offset) override;
  void write32(std::uint32_t offset, std::uint32_t value) override;
  void write64(std::uint32_t offset, std::uint64_t value) override;

  // Translates the address `iova` of a request from `sid`. With TE off the address passes through
  // untranslated. A fault is recorded (unless FPD suppresses it) and returned.
  Fault translate(std::uint16_t sid, std::uint64_t iova, bool write, PhysAddr* pa,
                  RequestKind kind = RequestKind::kUntranslated);
  // A whole request: [iova, iova + len) split at 4 KiB boundaries, every page translated under one
  // lock acquisition; stops at (and records only) the first fault.
  Fault translate_range(std::uint16_t sid, std::uint64_t iova, std::uint64_t len, bool write,
                        std::vector<DmaChunk>* out, RequestKind kind = RequestKind::kUntranslated);

  // FrameFreeListener: counts frees of blocks the unit could still reach (each block once).
  void on_frames_freed(const PhysAddr* blocks, std::size_t n, unsigned order) override;

  std::vector<KnSimCacheEntry> cache_snapshot() const;
  UnitStats stats() const;
  std::uint64_t use_after_free_count() const;
  // Driver protocol violations (protocol_violations.h): total, per rule, and the log.
  std::uint64_t protocol_violation_count() const;
  std::uint64_t protocol_violation_count(ProtocolRule rule) const;
  std::string protocol_violation_log() const;
  const UnitConfig& config() const { return config_; }

 private:
  // Offsets of the instance registers.
  std::uint32_t iva_off() const { return config_.iro * 16; }
  std::uint32_t iotlb_off() const { return config_.iro * 16 + vtd::kIotlbRegFromIva; }
  std::uint32_t frcd_off(unsigned i) const { return config_.fro * 16 + i * vtd::kFrcdStride; }

  void define_registers();
  // Side effects after a guest write that covered [off, off + len).
  void dispatch_write(std::uint32_t off, unsigned len);
  void handle_gcmd();
  void handle_ccmd();
  void handle_iotlb_reg();
  void handle_fsts_or_frcd_write();
  void handle_ics_write();
  void process_queue();

  // Invalidation primitives shared by the register and queued interfaces.
  void invalidate_context(unsigned granularity, std::uint16_t did, std::uint16_t sid, unsigned fm);
  // False (and a protocol violation) when a page-selective request is undefined: not performed.
  bool invalidate_iotlb(unsigned granularity, std::uint16_t did, std::uint64_t addr, unsigned am,
                        bool ih);
  // Records RegisterReserved when a guest write sets a reserved bit of a known register.
  void check_reserved_write(std::uint32_t off, std::uint64_t value, unsigned len);
  // Returns 0 on success, else an IQERCD.IQEI code.
  unsigned run_descriptor(const vtd::layout::Words<2>& desc);
  void raise_queue_error(unsigned iqei);
  // Records DescriptorReserved and returns the IQEI code for it.
  unsigned descriptor_reserved(const vtd::layout::Words<2>& desc);

  // Front of the IOTLB: a small direct-mapped array of recent (SID, page) results, valid only
  // while `generation_` is unchanged (any invalidation, eviction, root change or TE change bumps
  // it), so it can never serve something the caches behind it no longer hold. Slots are filled
  // only by translations with TE on, so a hit needs no look at GSTS.TES.
  struct FrontSlot {
    std::uint64_t generation = 0;  // 0 = empty
    std::uint64_t vpn = 0;
    PhysAddr page_pa = 0;
    std::uint16_t sid = 0;
    std::uint8_t perms = 0;
  };
  static constexpr std::size_t kFrontSlots = 256;
  // The one slot a request of `sid` at `iova` can use.
  FrontSlot& front_slot(std::uint16_t sid, std::uint64_t iova) {
    const std::uint64_t vpn = iova >> vtd::kPageShift;
    return front_[static_cast<std::size_t>((vpn ^ (std::uint64_t{sid} * 0x9E37u)) &
                                           (kFrontSlots - 1))];
  }

  // Translation internals (mu_ held).
  // The front answers (true, *pa set): the whole of a hit. Inline into translate() and
  // translate_range(), which call translate_locked() only when it does not.
  [[gnu::always_inline]] bool front_hit_locked(std::uint16_t sid, std::uint64_t iova,
                                               std::uint8_t need, RequestKind kind, PhysAddr* pa);
  // Everything after a front miss: context cache, IOTLB, walk, fault reporting, and the refill of
  // `front`, the request's front slot. Inline into translate_range() and into
  // translate_front_missed(): a call would spill the request's state.
  [[gnu::always_inline]] Fault translate_locked(std::uint16_t sid, std::uint64_t iova,
                                                std::uint8_t need, RequestKind kind,
                                                FrontSlot* front, PhysAddr* pa);
  // translate() past its fast path, out of line, so that translate() makes no call of its own
  // and needs no stack frame on a hit: a front miss (mu_ held by the caller through
  // try_lock_biased(), released here), and a request of a thread that does not own the lock's
  // bias (takes mu_ itself).
  // Both take translate()'s own arguments, so its tail calls to them move no register.
  [[gnu::noinline]] Fault translate_front_missed(std::uint16_t sid, std::uint64_t iova,
                                                 bool write, PhysAddr* pa, RequestKind kind);
  [[gnu::noinline]] Fault translate_unbiased(std::uint16_t sid, std::uint64_t iova, bool write,
                                             PhysAddr* pa, RequestKind kind);
  // Points *ctx at the context cache's entry for `sid`, or (on a miss) at `scratch`, filled from
  // memory. Inline: the cached case is on every request that misses the front.
  [[gnu::always_inline]] Fault lookup_context(std::uint16_t sid, ContextInfo* scratch,
                                              const ContextInfo** ctx);
  // The context cache missed: fetch the entry into `scratch` (and cache it when it may be).
  Fault fetch_context(std::uint16_t sid, ContextInfo* scratch, const ContextInfo** ctx);
  // DidNamesTwoTables: `ctx`, just fetched for `sid`, against the contexts the unit has cached.
  void check_did_names_one_table(std::uint16_t sid, const ContextInfo& ctx);
  void report(std::uint16_t sid, std::uint64_t iova, bool write, Fault f, bool fpd);
  void record_fault(std::uint16_t sid, std::uint64_t iova, bool write, Fault f);
  void raise_fault_event();
  void caches_changed() { ++generation_; }
  // Brings the audit's index (what the unit could still reach: refs_) up to date.
  void sync_references_locked();

  const UnitConfig config_;
  SimPhysMem& mem_;
  const Walker walker_;

  mutable UnitLock mu_;
  RegFile regs_;
  bool translation_enabled_ = false;  // GSTS.TES, kept beside the register by handle_gcmd()
  PhysAddr root_table_ = 0;           // latched by SRTP
  bool root_valid_ = false;  // SRTP done with a legacy-mode (TTM=00) RTADDR
  unsigned next_fault_ = 0;  // next fault-recording register to use
  ContextCache context_cache_;
  Iotlb iotlb_;
  PagingStructureCache psc_;
  std::uint64_t generation_ = 1;
  std::array<FrontSlot, kFrontSlots> front_{};
  UnitStats stats_;
  // Requests the front answered: each is a translation, an IOTLB hit and a context-cache hit,
  // added to those counters by stats() (one increment on the hit path instead of three).
  std::uint64_t front_hits_ = 0;
  std::uint64_t use_after_free_ = 0;
  ProtocolViolations violations_;
  // The use-after-free audit (when detect_use_after_free): references held by the caches (kept by
  // the caches as they fill and drop entries) and by the live structures (reach_, brought up to
  // date on each free from the frames written since).
  std::unique_ptr<FrameRefs> refs_;
  std::unique_ptr<ReachIndex> reach_;
};

}  // namespace kniommu::hw
