// The unit's invalidation interfaces: the CCMD and IOTLB registers, and the invalidation queue
// (descriptors fetched from simulated memory at IQA, processed head -> tail synchronously when IQT
// is written, as QEMU does).
#include <string>

#include "hw/extra_regs.h"
#include "hw/layout_masks.h"
#include "hw/remapping_unit.h"
#include "vtd/entries.h"

namespace kniommu::hw {
namespace {

constexpr unsigned kGlobal = static_cast<unsigned>(vtd::Granularity::kGlobal);
constexpr unsigned kDomain = static_cast<unsigned>(vtd::Granularity::kDomain);
constexpr unsigned kDeviceOrPage = static_cast<unsigned>(vtd::Granularity::kDeviceOrPage);

// IQERCD.IQEI codes (VT-d spec §10.4, IQERCD_REG).
constexpr unsigned kIqeiTail = 1;
constexpr unsigned kIqeiFetch = 2;
constexpr unsigned kIqeiType = 3;
constexpr unsigned kIqeiReserved = 4;

std::string hex(std::uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), kDigits[v & 0xF]);
    v >>= 4;
  } while (v != 0);
  return "0x" + out;
}

}  // namespace

void RemappingUnit::invalidate_context(unsigned granularity, std::uint16_t did, std::uint16_t sid,
                                       unsigned fm) {
  if (granularity == kGlobal) {
    context_cache_.invalidate_all();
    ++stats_.cc_global;
  } else if (granularity == kDomain) {
    context_cache_.invalidate_domain(did);
    ++stats_.cc_domain;
  } else {
    context_cache_.invalidate_device(sid, fm, did);
    ++stats_.cc_device;
  }
  caches_changed();
}

bool RemappingUnit::invalidate_iotlb(unsigned granularity, std::uint16_t did, std::uint64_t addr,
                                     unsigned am, bool ih) {
  if (granularity == kDeviceOrPage) {
    // VT-d spec §6.5.2.3: ADDR must be aligned to the 2^AM pages it names and AM must not exceed
    // CAP.MAMV; the result is undefined otherwise. Strictest hardware: record, do nothing.
    if (am > config_.mamv) {
      violations_.record(ProtocolRule::kPsiMaskAboveMamv,
                         "AM " + std::to_string(am) + " > MAMV " + std::to_string(config_.mamv));
      return false;
    }
    const std::uint64_t span = std::uint64_t{1} << (vtd::kPageShift + am);
    if ((addr & (span - 1)) != 0) {
      violations_.record(ProtocolRule::kPsiAddressUnaligned,
                         "DID " + std::to_string(did) + " ADDR " + hex(addr) + " AM " +
                             std::to_string(am));
      return false;
    }
    // IH=1 promises that only leaf entries changed (VT-d spec §6.5.2.3): a cached non-leaf entry
    // in the range whose translation-relevant bits (address, R, W, PS; not the ignored bits
    // software may use) differ in memory from what was cached breaks that promise.
    if (ih) {
      constexpr std::uint64_t kRelevant = 0x000F'FFFF'FFFF'F000ull | 0x83;
      for (const PscEntry& e : psc_.entries_in_range(did, addr, am)) {
        const std::uint64_t now = mem_.read64(e.entry_pa);
        if (((now ^ e.raw) & kRelevant) != 0) {
          violations_.record(ProtocolRule::kNonLeafChangeWithIh,
                             "DID " + std::to_string(did) + " ADDR " + hex(addr) + " AM " +
                                 std::to_string(am) + ": entry at " + hex(e.entry_pa) + " was " +
                                 hex(e.raw) + ", now " + hex(now));
          break;
        }
      }
    }
  }
  // The paging-structure cache goes with the IOTLB, except that IH=1 promises only leaves changed.
  if (granularity == kGlobal) {
    iotlb_.invalidate_all();
    psc_.invalidate_all();
    ++stats_.iotlb_global;
  } else if (granularity == kDomain) {
    iotlb_.invalidate_domain(did);
    psc_.invalidate_domain(did);
    ++stats_.iotlb_domain;
  } else {
    iotlb_.invalidate_pages(did, addr, am);
    if (!ih) psc_.invalidate_range(did, addr, am);
    ++stats_.iotlb_page;
  }
  caches_changed();
  return true;
}

void RemappingUnit::handle_ccmd() {
  using C = decltype(vtd::kCcmdReg);
  std::uint64_t v = regs_.raw64(vtd::kRegCcmd);
  if (field_of(C{}, KNIOMMU_F("ICC"), v) == 0) return;
  if (field_of(vtd::kGstsReg, KNIOMMU_F("QIES"), regs_.raw32(vtd::kRegGsts)) != 0) {
    // Register-based invalidation while QI is enabled is a programming error: like QEMU, ignore it
    // (ICC stays set, so a driver polling for completion notices).
    ++stats_.register_invalidations_refused;
    violations_.record(ProtocolRule::kRegisterInvalidationWhileQi, "CCMD " + hex(v));
    return;
  }
  const auto cirg = static_cast<unsigned>(field_of(C{}, KNIOMMU_F("CIRG"), v));
  if (cirg == 0) violations_.record(ProtocolRule::kRegisterReserved, "CCMD CIRG 0 (reserved)");
  if (cirg != 0) {
    invalidate_context(cirg, static_cast<std::uint16_t>(field_of(C{}, KNIOMMU_F("DID"), v)),
                       static_cast<std::uint16_t>(field_of(C{}, KNIOMMU_F("SID"), v)),
                       static_cast<unsigned>(field_of(C{}, KNIOMMU_F("FM"), v)));
  }
  // CAIG reports the granularity performed (0: none, for the reserved CIRG 0).
  v = with_field(C{}, KNIOMMU_F("CAIG"), v, cirg);
  v = with_field(C{}, KNIOMMU_F("ICC"), v, 0);
  regs_.set_raw64(vtd::kRegCcmd, v);
}

void RemappingUnit::handle_iotlb_reg() {
  using T = decltype(vtd::kIotlbReg);
  using A = decltype(vtd::kIvaReg);
  std::uint64_t v = regs_.raw64(iotlb_off());
  if (field_of(T{}, KNIOMMU_F("IVT"), v) == 0) return;
  if (field_of(vtd::kGstsReg, KNIOMMU_F("QIES"), regs_.raw32(vtd::kRegGsts)) != 0) {
    ++stats_.register_invalidations_refused;
    violations_.record(ProtocolRule::kRegisterInvalidationWhileQi, "IOTLB " + hex(v));
    return;
  }
  const std::uint64_t iva = regs_.raw64(iva_off());
  const auto iirg = static_cast<unsigned>(field_of(T{}, KNIOMMU_F("IIRG"), v));
  const auto am = static_cast<unsigned>(field_of(A{}, KNIOMMU_F("AM"), iva));
  // An undefined page-selective request (AM > MAMV, ADDR not aligned to AM) is not performed
  // (IAIG 0) and recorded, so a driver that breaks the rules sees its invalidation fail instead
  // of silently succeeding.
  unsigned performed = iirg;
  if (iirg == 0) {
    performed = 0;
    violations_.record(ProtocolRule::kRegisterReserved, "IOTLB IIRG 0 (reserved)");
  } else if (!invalidate_iotlb(iirg, static_cast<std::uint16_t>(field_of(T{}, KNIOMMU_F("DID"), v)),
                               field_of(A{}, KNIOMMU_F("ADDR"), iva) << vtd::kPageShift, am,
                               field_of(A{}, KNIOMMU_F("IH"), iva) != 0)) {
    performed = 0;
  }
  v = with_field(T{}, KNIOMMU_F("IAIG"), v, performed);
  v = with_field(T{}, KNIOMMU_F("IVT"), v, 0);
  regs_.set_raw64(iotlb_off(), v);
}

unsigned RemappingUnit::descriptor_reserved(const vtd::layout::Words<2>& desc) {
  violations_.record(ProtocolRule::kDescriptorReserved, hex(desc[0]) + " " + hex(desc[1]));
  return kIqeiReserved;
}

void RemappingUnit::raise_queue_error(unsigned iqei) {
  std::uint64_t fsts = regs_.raw32(vtd::kRegFsts);
  fsts = with_field(vtd::kFstsReg, KNIOMMU_F("IQE"), fsts, 1);
  regs_.set_raw32(vtd::kRegFsts, static_cast<std::uint32_t>(fsts));
  regs_.set_raw64(vtd::kRegIqercd, with_field(vtd::kIqercdReg, KNIOMMU_F("IQEI"),
                                              regs_.raw64(vtd::kRegIqercd), iqei));
  ++stats_.queue_errors;
  raise_fault_event();
}

unsigned RemappingUnit::run_descriptor(const vtd::layout::Words<2>& desc) {
  // TYPE sits in the same bits of every legacy descriptor.
  const std::uint64_t type = field_of(vtd::kContextCacheDesc, KNIOMMU_F("TYPE"), desc[0]);
  if (type == vtd::kDescContextCache) {
    vtd::ContextCacheDesc d;
    d.w = desc;
    if (!d.reserved_clear() || d.granularity() == 0) return descriptor_reserved(desc);
    invalidate_context(static_cast<unsigned>(d.granularity()), static_cast<std::uint16_t>(d.did()),
                       static_cast<std::uint16_t>(d.sid()), static_cast<unsigned>(d.fm()));
    return 0;
  }
  if (type == vtd::kDescIotlb) {
    vtd::IotlbDesc d;
    d.w = desc;
    if (!d.reserved_clear() || d.granularity() == 0) return descriptor_reserved(desc);
    const auto g = static_cast<unsigned>(d.granularity());
    // AM > MAMV is recorded by invalidate_iotlb; like QEMU the unit also stops the queue.
    if (!invalidate_iotlb(g, static_cast<std::uint16_t>(d.did()), d.addr(),
                          static_cast<unsigned>(d.am()), d.ih() != 0) &&
        d.am() > config_.mamv)
      return kIqeiReserved;
    return 0;
  }
  if (type == vtd::kDescWait) {
    vtd::WaitDesc d;
    d.w = desc;
    // PD (page-request drain) needs page requests, which legacy mode does not have.
    if (!d.reserved_clear() || field_of(vtd::kWaitDesc, KNIOMMU_F("PD"), desc[0]) != 0) {
      return descriptor_reserved(desc);
    }
    ++stats_.wait_descriptors;
    if (d.status_write() != 0) {
      const auto data = static_cast<std::uint32_t>(d.status_data());
      mem_.device_write(d.status_addr(), &data, sizeof data);  // always coherent (§10.4.3)
    }
    if (d.interrupt() != 0) {
      regs_.set_raw32(vtd::kRegIcs,
                      static_cast<std::uint32_t>(with_field(vtd::kIcsReg, KNIOMMU_F("IWC"),
                                                            regs_.raw32(vtd::kRegIcs), 1)));
      // The completion event pends in IECTL.IP while IECTL.IM masks it (same format as FECTL).
      const std::uint64_t iectl = regs_.raw32(kRegIectl);
      if (field_of(vtd::kFectlReg, KNIOMMU_F("IM"), iectl) != 0) {
        regs_.set_raw32(kRegIectl, static_cast<std::uint32_t>(
                                       with_field(vtd::kFectlReg, KNIOMMU_F("IP"), iectl, 1)));
      }
    }
    return 0;
  }
  // Device-TLB (no ECAP.DT), interrupt-entry-cache (no ECAP.IR) and scalable-mode types.
  violations_.record(ProtocolRule::kDescriptorType, hex(desc[0]) + " " + hex(desc[1]));
  return kIqeiType;
}

void RemappingUnit::process_queue() {
  using P = decltype(vtd::kIqPtrReg);
  if (field_of(vtd::kGstsReg, KNIOMMU_F("QIES"), regs_.raw32(vtd::kRegGsts)) == 0) return;
  // Fetching stops while an error is pending, until software clears FSTS.IQE.
  if (field_of(vtd::kFstsReg, KNIOMMU_F("IQE"), regs_.raw32(vtd::kRegFsts)) != 0) return;
  const std::uint64_t iqa = regs_.raw64(vtd::kRegIqa);
  const PhysAddr base = field_of(vtd::kIqaReg, KNIOMMU_F("IQA"), iqa) << vtd::kPageShift;
  const std::uint64_t slots = std::uint64_t{1}
                              << (field_of(vtd::kIqaReg, KNIOMMU_F("QS"), iqa) + 8);
  const std::uint64_t tail = field_of(P{}, KNIOMMU_F("QP"), regs_.raw64(vtd::kRegIqt));
  std::uint64_t head = field_of(P{}, KNIOMMU_F("QP"), regs_.raw64(vtd::kRegIqh));
  if (tail >= slots) {
    violations_.record(ProtocolRule::kQueueTailBeyondSize,
                       "IQT " + std::to_string(tail) + " >= " + std::to_string(slots) + " slots");
    raise_queue_error(kIqeiTail);
    return;
  }
  while (head != tail) {
    const PhysAddr pa = base + 16 * head;
    unsigned err = kIqeiFetch;
    if (mem_.contains(pa, 16)) err = run_descriptor(vtd::read_entry128(mem_, pa));
    if (err != 0) {
      raise_queue_error(err);  // IQH stays at the bad descriptor
      break;
    }
    head = (head + 1) % slots;
    regs_.set_raw64(vtd::kRegIqh, with_field(P{}, KNIOMMU_F("QP"), 0, head));
  }
}

}  // namespace kniommu::hw
