// The unit's invalidation interfaces: the CCMD and IOTLB registers, and the invalidation queue
// (descriptors fetched from simulated memory at IQA, processed head -> tail synchronously when IQT
// is written, as QEMU does).
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

void RemappingUnit::invalidate_iotlb(unsigned granularity, std::uint16_t did, std::uint64_t addr,
                                     unsigned am, bool ih) {
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
}

void RemappingUnit::handle_ccmd() {
  using C = decltype(vtd::kCcmdReg);
  std::uint64_t v = regs_.raw64(vtd::kRegCcmd);
  if (field_of(C{}, KNIOMMU_F("ICC"), v) == 0) return;
  if (field_of(vtd::kGstsReg, KNIOMMU_F("QIES"), regs_.raw32(vtd::kRegGsts)) != 0) {
    // Register-based invalidation while QI is enabled is a programming error: like QEMU, ignore it
    // (ICC stays set, so a driver polling for completion notices).
    ++stats_.register_invalidations_refused;
    return;
  }
  const auto cirg = static_cast<unsigned>(field_of(C{}, KNIOMMU_F("CIRG"), v));
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
    return;
  }
  const std::uint64_t iva = regs_.raw64(iva_off());
  const auto iirg = static_cast<unsigned>(field_of(T{}, KNIOMMU_F("IIRG"), v));
  const auto am = static_cast<unsigned>(field_of(A{}, KNIOMMU_F("AM"), iva));
  // A page-selective request with AM > MAMV is not performed (IAIG 0), so a driver that ignores
  // MAMV sees its invalidation fail instead of silently succeeding.
  unsigned performed = iirg;
  if (iirg == 0 || (iirg == kDeviceOrPage && am > config_.mamv)) {
    performed = 0;
  } else {
    invalidate_iotlb(iirg, static_cast<std::uint16_t>(field_of(T{}, KNIOMMU_F("DID"), v)),
                     field_of(A{}, KNIOMMU_F("ADDR"), iva) << vtd::kPageShift, am,
                     field_of(A{}, KNIOMMU_F("IH"), iva) != 0);
  }
  v = with_field(T{}, KNIOMMU_F("IAIG"), v, performed);
  v = with_field(T{}, KNIOMMU_F("IVT"), v, 0);
  regs_.set_raw64(iotlb_off(), v);
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
    if (!d.reserved_clear() || d.granularity() == 0) return kIqeiReserved;
    invalidate_context(static_cast<unsigned>(d.granularity()), static_cast<std::uint16_t>(d.did()),
                       static_cast<std::uint16_t>(d.sid()), static_cast<unsigned>(d.fm()));
    return 0;
  }
  if (type == vtd::kDescIotlb) {
    vtd::IotlbDesc d;
    d.w = desc;
    if (!d.reserved_clear() || d.granularity() == 0) return kIqeiReserved;
    const auto g = static_cast<unsigned>(d.granularity());
    if (g == kDeviceOrPage && d.am() > config_.mamv) return kIqeiReserved;
    invalidate_iotlb(g, static_cast<std::uint16_t>(d.did()), d.addr(),
                     static_cast<unsigned>(d.am()), d.ih() != 0);
    return 0;
  }
  if (type == vtd::kDescWait) {
    vtd::WaitDesc d;
    d.w = desc;
    // PD (page-request drain) needs page requests, which legacy mode does not have.
    if (!d.reserved_clear() || field_of(vtd::kWaitDesc, KNIOMMU_F("PD"), desc[0]) != 0) {
      return kIqeiReserved;
    }
    ++stats_.wait_descriptors;
    if (d.status_write() != 0) {
      const auto data = static_cast<std::uint32_t>(d.status_data());
      mem_.write(d.status_addr(), &data, sizeof data);
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
