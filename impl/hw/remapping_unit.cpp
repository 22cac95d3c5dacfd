#include "hw/remapping_unit.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "hw/extra_regs.h"
#include "hw/layout_masks.h"

namespace kniommu::hw {
namespace {

long membarrier(int cmd) { return syscall(__NR_membarrier, cmd, 0, 0); }

// Registered once per process; false when the kernel (or a seccomp filter) refuses: then no lock
// is ever biased.
bool membarrier_available() {
  static const bool ok = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
  return ok;
}

}  // namespace

std::uint64_t UnitLock::new_token() {
  static std::atomic<std::uint64_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed) + 1;
}

void UnitLock::lock_slow() {
  mu_.lock();
  if (!revoked_.load(std::memory_order_relaxed)) {
    const std::uint64_t owner = owner_.load(std::memory_order_relaxed);
    if (owner == 0) {
      // The first user: from its next section on it enters without mu_ (everything before is
      // ordered by mu_, its own later sections by program order).
      if (membarrier_available()) owner_.store(self(), std::memory_order_relaxed);
    } else if (owner != self()) {
      // A second thread: revoke for good. After the barrier the owner either sees revoked_ (and
      // queues on mu_, which we hold) or is inside a section, which we wait out; its release of
      // busy_ orders its sections before everything we and later holders of mu_ do.
      revoked_.store(true, std::memory_order_relaxed);
      if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) std::abort();  // registered
      while (busy_.load(std::memory_order_acquire)) std::this_thread::yield();
    }
  }
  // Only now: until the wait above the owner may still be inside its section, holding biased_.
  biased_ = false;
}

RemappingUnit::RemappingUnit(const UnitConfig& config, SimPhysMem& mem)
    : config_(config),
      mem_(mem),
      walker_(config_, mem),
      regs_(config.mmio_size()),
      context_cache_(config.context_cache_entries),
      iotlb_(config.iotlb_entries),
      psc_(config.paging_structure_cache_entries) {
  // ECAP.C = 0: the walks read memory, not the CPU caches (VT-d spec §10.4.3), so CPU stores to
  // tables stay invisible until the driver flushes them.
  if (!config_.coherent) mem_.enable_cpu_cache_model();
  define_registers();
  if (config_.detect_use_after_free) {
    refs_ = std::make_unique<FrameRefs>(mem_.size_bytes());
    reach_ = std::make_unique<ReachIndex>(walker_, mem_, *refs_);
    context_cache_.track(refs_.get());
    iotlb_.track(refs_.get());
    psc_.track(refs_.get());
    mem_.set_free_listener(this);
  }
}

RemappingUnit::~RemappingUnit() {
  if (config_.detect_use_after_free) mem_.set_free_listener(nullptr);
}

void RemappingUnit::define_registers() {
  using vtd::kCcmdReg, vtd::kFectlReg, vtd::kFstsReg, vtd::kGcmdReg, vtd::kIcsReg, vtd::kIotlbReg,
      vtd::kIqaReg, vtd::kIqPtrReg, vtd::kIvaReg, vtd::kRtaddrReg, vtd::kFrcdReg;
  const auto u32 = [](std::uint64_t v) { return static_cast<std::uint32_t>(v); };
  RegFile& r = regs_;
  r.define32(vtd::kRegVer, kVersion, 0, 0);
  r.define64(vtd::kRegCap, config_.cap(), 0, 0);
  r.define64(vtd::kRegEcap, config_.ecap(), 0, 0);
  // GCMD is write-only: every command bit is writable and reads back as 0.
  const auto gcmd_bits = u32(decltype(kGcmdReg)::value_mask(0));
  r.define32(vtd::kRegGcmd, 0, gcmd_bits, 0, gcmd_bits);
  r.define32(vtd::kRegGsts, 0, 0, 0);
  r.define64(vtd::kRegRtaddr, 0,
             mask_of(kRtaddrReg, KNIOMMU_F("RTA")) | mask_of(kRtaddrReg, KNIOMMU_F("TTM")), 0);
  r.define64(vtd::kRegCcmd, 0,
             mask_of(kCcmdReg, KNIOMMU_F("ICC")) | mask_of(kCcmdReg, KNIOMMU_F("CIRG")) |
                 mask_of(kCcmdReg, KNIOMMU_F("FM")) | mask_of(kCcmdReg, KNIOMMU_F("SID")) |
                 mask_of(kCcmdReg, KNIOMMU_F("DID")),
             0);
  r.define32(vtd::kRegFsts, 0, 0,
             u32(mask_of(kFstsReg, KNIOMMU_F("PFO")) | mask_of(kFstsReg, KNIOMMU_F("IQE")) |
                 mask_of(kFstsReg, KNIOMMU_F("ICE")) | mask_of(kFstsReg, KNIOMMU_F("ITE"))));
  const auto im = u32(mask_of(kFectlReg, KNIOMMU_F("IM")));
  r.define32(vtd::kRegFectl, im, im, 0);  // interrupts masked at reset
  r.define32(vtd::kRegFedata, 0, ~0u, 0);
  r.define32(vtd::kRegFeaddr, 0, ~0u, 0);
  r.define32(vtd::kRegFeuaddr, 0, ~0u, 0);
  r.define64(vtd::kRegIqh, 0, 0, 0);
  r.define64(vtd::kRegIqt, 0, mask_of(kIqPtrReg, KNIOMMU_F("QP")), 0);
  // DW (256-bit descriptors) only exists in scalable mode: read-only 0 here.
  r.define64(vtd::kRegIqa, 0,
             mask_of(kIqaReg, KNIOMMU_F("IQA")) | mask_of(kIqaReg, KNIOMMU_F("QS")), 0);
  r.define32(vtd::kRegIcs, 0, 0, u32(mask_of(kIcsReg, KNIOMMU_F("IWC"))));
  r.define32(kRegIectl, im, im, 0);
  r.define32(kRegIedata, 0, ~0u, 0);
  r.define32(kRegIeaddr, 0, ~0u, 0);
  r.define32(kRegIeuaddr, 0, ~0u, 0);
  r.define64(vtd::kRegIqercd, 0, 0, 0);
  r.define64(iva_off(), 0,
             mask_of(kIvaReg, KNIOMMU_F("ADDR")) | mask_of(kIvaReg, KNIOMMU_F("IH")) |
                 mask_of(kIvaReg, KNIOMMU_F("AM")),
             0);
  r.define64(iotlb_off(), 0,
             mask_of(kIotlbReg, KNIOMMU_F("IVT")) | mask_of(kIotlbReg, KNIOMMU_F("IIRG")) |
                 mask_of(kIotlbReg, KNIOMMU_F("DR")) | mask_of(kIotlbReg, KNIOMMU_F("DW")) |
                 mask_of(kIotlbReg, KNIOMMU_F("DID")),
             0);
  for (unsigned i = 0; i <= config_.nfr; ++i) {
    r.define64(frcd_off(i), 0, 0, 0);
    r.define64(frcd_off(i) + 8, 0, 0, mask_of(kFrcdReg, KNIOMMU_F("F")));
  }
}

std::uint32_t RemappingUnit::read32(std::uint32_t offset) {
  std::lock_guard lock(mu_);
  return static_cast<std::uint32_t>(regs_.guest_read(offset, 4));
}

std::uint64_t RemappingUnit::read64(std::uint32_t offset) {
  std::lock_guard lock(mu_);
  return regs_.guest_read(offset, 8);
}

void RemappingUnit::write32(std::uint32_t offset, std::uint32_t value) {
  std::lock_guard lock(mu_);
  check_reserved_write(offset, value, 4);
  regs_.guest_write(offset, value, 4);
  dispatch_write(offset, 4);
}

void RemappingUnit::write64(std::uint32_t offset, std::uint64_t value) {
  std::lock_guard lock(mu_);
  check_reserved_write(offset, value, 8);
  regs_.guest_write(offset, value, 8);
  dispatch_write(offset, 8);
}

void RemappingUnit::check_reserved_write(std::uint32_t off, std::uint64_t value, unsigned len) {
  // Reserved fields of the registers a legacy-mode driver writes (VT-d spec §10.4: software must
  // write reserved bits as 0). Masks come from the shared layouts' reserved fields.
  struct Reserved {
    std::uint32_t reg;
    std::uint64_t mask;
  };
  const Reserved table[] = {
      {vtd::kRegGcmd, mask_of(vtd::kGcmdReg, KNIOMMU_F("RSVD"))},
      {vtd::kRegRtaddr, mask_of(vtd::kRtaddrReg, KNIOMMU_F("RSVD"))},
      {vtd::kRegCcmd, mask_of(vtd::kCcmdReg, KNIOMMU_F("RSVD"))},
      {vtd::kRegFectl, mask_of(vtd::kFectlReg, KNIOMMU_F("RSVD"))},
      {vtd::kRegIqt, mask_of(vtd::kIqPtrReg, KNIOMMU_F("RSVD_LO")) |
                         mask_of(vtd::kIqPtrReg, KNIOMMU_F("RSVD_HI"))},
      {vtd::kRegIqa, mask_of(vtd::kIqaReg, KNIOMMU_F("RSVD"))},
      {vtd::kRegIcs, mask_of(vtd::kIcsReg, KNIOMMU_F("RSVD")) & 0xFFFF'FFFFu},
      {iva_off(), mask_of(vtd::kIvaReg, KNIOMMU_F("RSVD"))},
      {iotlb_off(), mask_of(vtd::kIotlbReg, KNIOMMU_F("RSVD_LO")) |
                        mask_of(vtd::kIotlbReg, KNIOMMU_F("RSVD50")) |
                        mask_of(vtd::kIotlbReg, KNIOMMU_F("RSVD59")) |
                        mask_of(vtd::kIotlbReg, KNIOMMU_F("RSVD62"))},
  };
  for (const Reserved& r : table) {
    std::uint64_t bad = 0;
    if (off >= r.reg && off < r.reg + 8) {
      bad = (value << (8 * (off - r.reg))) & r.mask;
    } else if (r.reg > off && r.reg < off + len) {
      bad = (value >> (8 * (r.reg - off))) & r.mask;
    }
    if (bad != 0) {
      violations_.record(ProtocolRule::kRegisterReserved,
                         "write of " + std::to_string(len) + " bytes at offset " +
                             std::to_string(off) + " sets reserved bits of register " +
                             std::to_string(r.reg));
    }
  }
}

std::uint64_t RemappingUnit::protocol_violation_count() const {
  std::lock_guard lock(mu_);
  return violations_.count();
}

std::uint64_t RemappingUnit::protocol_violation_count(ProtocolRule rule) const {
  std::lock_guard lock(mu_);
  return violations_.count(rule);
}

std::string RemappingUnit::protocol_violation_log() const {
  std::lock_guard lock(mu_);
  return violations_.log();
}

void RemappingUnit::dispatch_write(std::uint32_t off, unsigned len) {
  // True when the write covered the byte at `reg`.
  const auto covers = [&](std::uint32_t reg) { return off <= reg && reg < off + len; };
  if (covers(vtd::kRegGcmd)) handle_gcmd();
  // CCMD and the IOTLB register act when their upper half (holding ICC / IVT) is written.
  if (covers(vtd::kRegCcmd + 4)) handle_ccmd();
  if (covers(iotlb_off() + 4)) handle_iotlb_reg();
  if (covers(vtd::kRegIqt)) process_queue();
  if (covers(vtd::kRegFsts) || (off >= frcd_off(0) && off < frcd_off(config_.nfr + 1))) {
    handle_fsts_or_frcd_write();
  }
  if (covers(vtd::kRegIcs)) handle_ics_write();
}

void RemappingUnit::handle_gcmd() {
  using G = decltype(vtd::kGcmdReg);
  using S = decltype(vtd::kGstsReg);
  const std::uint64_t cmd = regs_.raw32(vtd::kRegGcmd);
  std::uint64_t sts = regs_.raw32(vtd::kRegGsts);
  const auto bit = [](std::uint64_t w, auto name, auto layout) {
    return field_of(layout, name, w);
  };

  // TE: persistent. Turning it off resets the fault-record cursor (VT-d spec §7.3.1). The
  // caches are left alone: hardware does not flush them on a TE toggle.
  const std::uint64_t te = bit(cmd, KNIOMMU_F("TE"), G{});
  if (te != bit(sts, KNIOMMU_F("TES"), S{})) {
    sts = with_field(S{}, KNIOMMU_F("TES"), sts, te);
    if (te == 0) next_fault_ = 0;
    caches_changed();
  }
  // SRTP: one-shot; latch RTADDR. No cache flush (ESRTPS is not advertised): software must follow
  // with global context and IOTLB invalidations.
  if (bit(cmd, KNIOMMU_F("SRTP"), G{}) != 0) {
    const std::uint64_t rtaddr = regs_.raw64(vtd::kRegRtaddr);
    root_table_ = field_of(vtd::kRtaddrReg, KNIOMMU_F("RTA"), rtaddr) << vtd::kPageShift;
    root_valid_ = field_of(vtd::kRtaddrReg, KNIOMMU_F("TTM"), rtaddr) == 0;
    sts = with_field(S{}, KNIOMMU_F("RTPS"), sts, 1);
    caches_changed();
  }
  // WBF: the emulator has no write buffer; the flush completes at once (WBFS reads 0).
  if (bit(cmd, KNIOMMU_F("WBF"), G{}) != 0) ++stats_.write_buffer_flushes;
  // QIE: persistent. Enabling resets IQH; disabling needs an empty queue (IQH == IQT).
  const std::uint64_t qie = bit(cmd, KNIOMMU_F("QIE"), G{});
  const std::uint64_t qies = bit(sts, KNIOMMU_F("QIES"), S{});
  if (qie != 0 && qies == 0 && config_.queued_invalidation) {
    regs_.set_raw64(vtd::kRegIqh, 0);
    sts = with_field(S{}, KNIOMMU_F("QIES"), sts, 1);
  } else if (qie == 0 && qies != 0 && regs_.raw64(vtd::kRegIqh) == regs_.raw64(vtd::kRegIqt)) {
    sts = with_field(S{}, KNIOMMU_F("QIES"), sts, 0);
  }
  regs_.set_raw32(vtd::kRegGsts, static_cast<std::uint32_t>(sts));
  translation_enabled_ = bit(sts, KNIOMMU_F("TES"), S{}) != 0;
}

void RemappingUnit::handle_fsts_or_frcd_write() {
  using F = decltype(vtd::kFstsReg);
  // PPF is the OR of the records' F bits (QEMU vtd_update_fsts_ppf).
  bool pending = false;
  for (unsigned i = 0; i <= config_.nfr; ++i) {
    pending = pending || field_of(vtd::kFrcdReg, KNIOMMU_F("F"), regs_.raw64(frcd_off(i) + 8)) != 0;
  }
  std::uint64_t fsts = regs_.raw32(vtd::kRegFsts);
  fsts = with_field(F{}, KNIOMMU_F("PPF"), fsts, pending ? 1 : 0);
  regs_.set_raw32(vtd::kRegFsts, static_cast<std::uint32_t>(fsts));
  // Nothing left to report: the pending fault interrupt is withdrawn.
  if (field_of(F{}, KNIOMMU_F("PPF"), fsts) == 0 && field_of(F{}, KNIOMMU_F("PFO"), fsts) == 0 &&
      field_of(F{}, KNIOMMU_F("IQE"), fsts) == 0) {
    regs_.set_raw32(vtd::kRegFectl,
                    static_cast<std::uint32_t>(with_field(vtd::kFectlReg, KNIOMMU_F("IP"),
                                                          regs_.raw32(vtd::kRegFectl), 0)));
  }
}

void RemappingUnit::handle_ics_write() {
  if (field_of(vtd::kIcsReg, KNIOMMU_F("IWC"), regs_.raw32(vtd::kRegIcs)) == 0) {
    regs_.set_raw32(kRegIectl, static_cast<std::uint32_t>(with_field(
                                   vtd::kFectlReg, KNIOMMU_F("IP"), regs_.raw32(kRegIectl), 0)));
  }
}

std::vector<KnSimCacheEntry> RemappingUnit::cache_snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<KnSimCacheEntry> out;
  out.reserve(context_cache_.size() + iotlb_.size());
  context_cache_.for_each([&](std::uint16_t sid, const ContextInfo& c) {
    KnSimCacheEntry e{};
    e.kind = 0;
    e.sid = sid;
    e.did = c.did;
    e.pa = c.present ? c.slptptr : 0;
    out.push_back(e);
  });
  iotlb_.for_each([&](const IotlbKey& k, const IotlbEntry& t) {
    KnSimCacheEntry e{};
    e.kind = 1;
    e.perms = t.perms;
    e.did = k.did;
    e.iova = k.vpn << k.shift;
    e.pa = t.page_pa;
    e.size = std::uint64_t{1} << k.shift;
    out.push_back(e);
  });
  return out;
}

UnitStats RemappingUnit::stats() const {
  std::lock_guard lock(mu_);
  UnitStats s = stats_;
  s.translations += front_hits_;
  s.iotlb_hits += front_hits_;
  s.context_hits += front_hits_;
  s.psc_entries_now = psc_.size();
  return s;
}

std::uint64_t RemappingUnit::use_after_free_count() const {
  std::lock_guard lock(mu_);
  return use_after_free_;
}

void RemappingUnit::sync_references_locked() {
  const bool root_live =
      root_valid_ && field_of(vtd::kGstsReg, KNIOMMU_F("RTPS"), regs_.raw32(vtd::kRegGsts)) != 0;
  reach_->sync(root_live, root_table_);
}

void RemappingUnit::on_frames_freed(const PhysAddr* blocks, std::size_t n, unsigned order) {
  std::lock_guard lock(mu_);
  if (reach_ == nullptr) return;
  // One sync for the batch: freeing frames writes none, so every block is judged against the
  // same state, the one each would see freed alone.
  sync_references_locked();
  for (std::size_t i = 0; i < n; ++i) {
    if (refs_->any(blocks[i], vtd::kPageSize << order)) ++use_after_free_;
  }
}

}  // namespace kniommu::hw
