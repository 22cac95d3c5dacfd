// The unit's DMA path: context cache -> IOTLB -> second-level walk (with the paging-structure
// cache), then fault reporting per the fault-recording algorithm (VT-d spec §7.3.1).
#include "common/mutation.h"
#include "hw/layout_masks.h"
#include "hw/remapping_unit.h"
#include "vtd/entries.h"

namespace kniommu::hw {
namespace {

// Translated addresses in 0xFEEx_xxxx are the interrupt window and are blocked (VT-d spec §3.14).
constexpr PhysAddr kInterruptBase = 0xFEE0'0000;
constexpr PhysAddr kInterruptEnd = 0xFEF0'0000;
constexpr std::uint8_t kTtDeviceTlb = static_cast<std::uint8_t>(vtd::TranslationType::kDeviceTlb);
constexpr std::uint8_t kTtPassThrough =
    static_cast<std::uint8_t>(vtd::TranslationType::kPassThrough);

Fault permission_fault(std::uint8_t need) {
  return (need & kPermWrite) != 0 ? Fault::kNoWrite : Fault::kNoRead;
}

}  // namespace

[[gnu::always_inline]] inline bool RemappingUnit::front_hit_locked(std::uint16_t sid,
                                                                  std::uint64_t iova,
                                                                  std::uint8_t need,
                                                                  RequestKind kind, PhysAddr* pa) {
  const FrontSlot& front = front_slot(sid, iova);
  if (kind != RequestKind::kUntranslated || front.generation != generation_ || front.sid != sid ||
      front.vpn != iova >> vtd::kPageShift || (front.perms & need) != need) {
    return false;
  }
  ++front_hits_;
  *pa = front.page_pa + (iova & (vtd::kPageSize - 1));
  return true;
}

Fault RemappingUnit::translate(std::uint16_t sid, std::uint64_t iova, bool write, PhysAddr* pa,
                               RequestKind kind) {
  if (!mu_.try_lock_biased()) [[unlikely]] return translate_unbiased(sid, iova, write, pa, kind);
  // Nothing between here and the unlock or the tail call can throw.
  if (front_hit_locked(sid, iova, write ? kPermWrite : kPermRead, kind, pa)) [[likely]] {
    mu_.unlock_biased();
    return Fault::kNone;
  }
  return translate_front_missed(sid, iova, write, pa, kind);
}

Fault RemappingUnit::translate_front_missed(std::uint16_t sid, std::uint64_t iova, bool write,
                                            PhysAddr* pa, RequestKind kind) {
  std::lock_guard lock(mu_, std::adopt_lock);
  return translate_locked(sid, iova, write ? kPermWrite : kPermRead, kind, &front_slot(sid, iova),
                          pa);
}

Fault RemappingUnit::translate_unbiased(std::uint16_t sid, std::uint64_t iova, bool write,
                                        PhysAddr* pa, RequestKind kind) {
  std::lock_guard lock(mu_);
  const std::uint8_t need = write ? kPermWrite : kPermRead;
  if (front_hit_locked(sid, iova, need, kind, pa)) return Fault::kNone;
  return translate_locked(sid, iova, need, kind, &front_slot(sid, iova), pa);
}

Fault RemappingUnit::translate_range(std::uint16_t sid, std::uint64_t iova, std::uint64_t len,
                                     bool write, std::vector<DmaChunk>* out, RequestKind kind) {
  out->clear();
  std::lock_guard lock(mu_);
  const std::uint8_t need = write ? kPermWrite : kPermRead;
  while (len > 0) {
    const std::uint64_t n = std::min(len, vtd::kPageSize - (iova & (vtd::kPageSize - 1)));
    PhysAddr pa = 0;
    if (!front_hit_locked(sid, iova, need, kind, &pa)) {
      const Fault f = translate_locked(sid, iova, need, kind, &front_slot(sid, iova), &pa);
      if (f != Fault::kNone) {
        out->clear();
        return f;
      }
    }
    out->push_back(DmaChunk{pa, n});
    iova += n;
    len -= n;
  }
  return Fault::kNone;
}

inline Fault RemappingUnit::lookup_context(std::uint16_t sid, ContextInfo* scratch,
                                           const ContextInfo** ctx) {
  if (const ContextInfo* c = context_cache_.find(sid)) [[likely]] {
    // Used in place, not copied: nothing on the translation path touches the context cache
    // after this lookup, so the entry stays put until translate_locked returns.
    ++stats_.context_hits;
    *ctx = c;
    return c->present ? Fault::kNone : Fault::kContextNotPresent;
  }
  return fetch_context(sid, scratch, ctx);
}

Fault RemappingUnit::fetch_context(std::uint16_t sid, ContextInfo* scratch,
                                   const ContextInfo** ctx) {
  *ctx = scratch;
  ++stats_.context_misses;
  ContextInfo* const out = scratch;
  if (!root_valid_) return Fault::kRootTableInvalid;
  const Fault f = walker_.fetch_context(root_table_, sid, out);
  if (f == Fault::kNone) check_did_names_one_table(sid, *out);
  // CM=1: a not-present context entry may be cached too (hardware tags it with DID 0).
  const bool cache = f == Fault::kNone || (f == Fault::kContextNotPresent && config_.caching_mode);
  if (cache && context_cache_.insert(sid, *out)) caches_changed();
  return f;
}

void RemappingUnit::check_did_names_one_table(std::uint16_t sid, const ContextInfo& ctx) {
  // Context entries with the same DID must reference the same translation structure (VT-d spec
  // §9.3): the IOTLB and the paging-structure caches are tagged by DID alone (§6.2), so a second
  // table or depth under one DID makes cached translations of one apply to the other. The unit
  // can see the conflict between the entry it fetches and the entries it holds in its context
  // cache (pass-through entries do not walk a table).
  constexpr auto kPassThrough = static_cast<std::uint8_t>(vtd::TranslationType::kPassThrough);
  if (ctx.tt == kPassThrough) return;
  context_cache_.for_each([&](std::uint16_t other, const ContextInfo& c) {
    if (other == sid || !c.present || c.tt == kPassThrough || c.did != ctx.did) return;
    if (c.slptptr == ctx.slptptr && c.levels == ctx.levels) return;
    violations_.record(ProtocolRule::kDidNamesTwoTables,
                       "DID " + std::to_string(ctx.did) + ": SID " + std::to_string(sid) +
                           " SLPTPTR " + std::to_string(ctx.slptptr) + " with " +
                           std::to_string(ctx.levels) + " levels, cached SID " +
                           std::to_string(other) + " SLPTPTR " + std::to_string(c.slptptr) +
                           " with " + std::to_string(c.levels) + " levels");
  });
}

[[gnu::always_inline]] inline Fault RemappingUnit::translate_locked(std::uint16_t sid,
                                                                   std::uint64_t iova,
                                                                   std::uint8_t need,
                                                                   RequestKind kind,
                                                                   FrontSlot* front, PhysAddr* pa) {
  if (!translation_enabled_) {
    ++stats_.untranslated;
    *pa = iova;
    return Fault::kNone;
  }
  ++stats_.translations;
  const bool write = (need & kPermWrite) != 0;
  ContextInfo scratch;
  const ContextInfo* ctx_ptr = nullptr;
  Fault f = lookup_context(sid, &scratch, &ctx_ptr);
  const ContextInfo& ctx = *ctx_ptr;
  if (f != Fault::kNone) {
    report(sid, iova, write, f, ctx.fpd);
    return f;
  }
  if (kind == RequestKind::kTranslated || ctx.tt == kTtPassThrough) {
    // Translated requests carry a host address and need a device-TLB context; pass-through
    // contexts use the address as is.
    const bool allowed =
        kind == RequestKind::kTranslated ? ctx.tt == kTtDeviceTlb : ctx.tt == kTtPassThrough;
    if (!allowed) {
      report(sid, iova, write, Fault::kBlockedByTranslationType, ctx.fpd);
      return Fault::kBlockedByTranslationType;
    }
    *pa = iova;
    return Fault::kNone;
  }

  PhysAddr page_pa = 0;
  unsigned shift = 12;
  std::uint8_t perms = 0;
  if (const IotlbEntry* e = iotlb_.find(ctx.did, iova, &shift)) {
    ++stats_.iotlb_hits;
    page_pa = e->page_pa;
    perms = e->perms;  // 0 for a cached not-present entry (CM=1)
    if ((perms & need) != need) f = permission_fault(need);
  } else {
    ++stats_.iotlb_misses;
    WalkResult r;
    PagingStructureCache* psc = config_.paging_structure_cache_entries != 0 ? &psc_ : nullptr;
    f = walker_.walk(ctx, iova, need, psc, &r);
    if (f == Fault::kNone) {
      page_pa = r.page_pa;
      shift = r.shift;
      perms = r.perms;
      if (iotlb_.insert_after_miss(ctx.did, iova, shift, IotlbEntry{page_pa, perms})) {
        caches_changed();
      }
    } else if (config_.caching_mode && r.not_present) {
      // CM=1: the not-present result is cached, so the driver must invalidate after mapping.
      if (iotlb_.insert_after_miss(ctx.did, iova, 12, IotlbEntry{0, 0})) caches_changed();
    }
  }
  if (f == Fault::kNone) {
    *pa = page_pa + (iova & ((std::uint64_t{1} << shift) - 1));
    if (*pa >= kInterruptBase && *pa < kInterruptEnd) f = Fault::kInterruptRange;
  }
  if (f != Fault::kNone) {
    report(sid, iova, write, f, ctx.fpd);
    return f;
  }
  *front = FrontSlot{generation_, iova >> vtd::kPageShift,
                     *pa & ~std::uint64_t{vtd::kPageSize - 1}, sid, perms};
  return Fault::kNone;
}

void RemappingUnit::report(std::uint16_t sid, std::uint64_t iova, bool write, Fault f, bool fpd) {
  if (fpd && is_qualified(f)) {
    ++stats_.faults_suppressed;
    return;
  }
  record_fault(sid, iova, write, f);
}

void RemappingUnit::record_fault(std::uint16_t sid, std::uint64_t iova, bool write, Fault f) {
  using S = decltype(vtd::kFstsReg);
  std::uint64_t fsts = regs_.raw32(vtd::kRegFsts);
  if (field_of(S{}, KNIOMMU_F("PFO"), fsts) != 0) {
    ++stats_.faults_dropped;
    return;
  }
  const std::uint32_t rec = frcd_off(next_fault_);
  // The mutant overwrites a record software has not read yet instead of signalling overflow.
  if (field_of(vtd::kFrcdReg, KNIOMMU_F("F"), regs_.raw64(rec + 8)) != 0 &&
      !mutant(Mutant::FaultRecordOverwritten)) {
    // The next record is still owned by software: overflow.
    regs_.set_raw32(vtd::kRegFsts,
                    static_cast<std::uint32_t>(with_field(S{}, KNIOMMU_F("PFO"), fsts, 1)));
    ++stats_.faults_dropped;
    raise_fault_event();
    return;
  }
  vtd::FaultRecord r;
  r.set_fi_field(iova >> vtd::kPageShift)
      .set_sid(sid)
      .set_reason(static_cast<std::uint64_t>(f))
      .set_type_read(write ? 0 : 1)
      .set_fault(1);
  regs_.set_raw64(rec, r.w[0]);
  regs_.set_raw64(rec + 8, r.w[1]);
  ++stats_.faults_recorded;
  if (field_of(S{}, KNIOMMU_F("PPF"), fsts) == 0) {
    fsts = with_field(S{}, KNIOMMU_F("FRI"), fsts, next_fault_);
    fsts = with_field(S{}, KNIOMMU_F("PPF"), fsts, 1);
    regs_.set_raw32(vtd::kRegFsts, static_cast<std::uint32_t>(fsts));
    raise_fault_event();
  }
  next_fault_ = (next_fault_ + 1) % (config_.nfr + 1);
}

void RemappingUnit::raise_fault_event() {
  // No interrupt controller is modelled: the event is counted, and pended in FECTL.IP while
  // FECTL.IM masks it (an unmasked event is "delivered" at once).
  ++stats_.fault_events;
  const std::uint64_t fectl = regs_.raw32(vtd::kRegFectl);
  if (field_of(vtd::kFectlReg, KNIOMMU_F("IM"), fectl) != 0) {
    regs_.set_raw32(vtd::kRegFectl, static_cast<std::uint32_t>(
                                        with_field(vtd::kFectlReg, KNIOMMU_F("IP"), fectl, 1)));
  }
}

}  // namespace kniommu::hw
