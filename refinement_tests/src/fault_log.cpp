#include "fault_log.h"

#include <sstream>

#include "text.h"

namespace kniommu::conformance {
namespace {

// Register offsets and fields, decoded here from the VT-d specification (§10.4.2, §10.4.9,
// §10.4.14) on purpose: the suite does not share the implementation's layouts.
constexpr uint32_t kRegCap = 0x08;
constexpr uint32_t kRegFsts = 0x34;
constexpr uint32_t kFstsPfo = 1u << 0, kFstsPpf = 1u << 1, kFstsAfo = 1u << 2, kFstsApf = 1u << 3,
                   kFstsIqe = 1u << 4, kFstsIce = 1u << 5, kFstsIte = 1u << 6;
constexpr unsigned kFstsFriShift = 8;
constexpr uint32_t kFrcdF = 1u << 31;  // bit 127 of the record = bit 31 of its last dword

}  // namespace

void FaultLog::init(const KnAdapterV1& api, KnAdapterSession* session, bool iommu_enabled) {
  enabled_ = iommu_enabled && api.read_reg32 != nullptr && api.write_reg32 != nullptr;
  if (!enabled_) return;
  const uint64_t cap = api.read_reg64(session, kRegCap);
  records_ = static_cast<unsigned>((cap >> 40) & 0xFF) + 1;  // CAP.NFR, bits 47:40
  fro_ = static_cast<uint32_t>((cap >> 24) & 0x3FF) * 16;    // CAP.FRO, bits 33:24
  slots_.assign(records_, std::nullopt);
}

bool FaultLog::expect(const ExpectedFault& f) {
  if (!enabled_ || pfo_) return false;
  if (slots_[next_]) {
    pfo_ = true;
    return true;
  }
  if (!any_pending()) fri_ = next_;
  slots_[next_] = f;
  next_ = (next_ + 1) % records_;
  return false;
}

bool FaultLog::any_pending() const {
  for (const auto& s : slots_)
    if (s) return true;
  return false;
}

void FaultLog::check(const KnAdapterV1& api, KnAdapterSession* session,
                     std::vector<std::string>& out) const {
  if (!enabled_) return;
  const uint32_t fsts = api.read_reg32(session, kRegFsts);
  const bool ppf = (fsts & kFstsPpf) != 0, pfo = (fsts & kFstsPfo) != 0;
  if (ppf != any_pending())
    out.push_back(cat("FSTS ", fsts, ": PPF ", ppf, ", expected ", any_pending()));
  if (pfo != pfo_)
    out.push_back(cat("FSTS ", fsts, ": PFO (fault overflow) ", pfo, ", expected ", pfo_));
  if (ppf && any_pending() && ((fsts >> kFstsFriShift) & 0xFF) != fri_)
    out.push_back(cat("FSTS.FRI ", (fsts >> kFstsFriShift) & 0xFF, ", expected ", fri_));
  if ((fsts & (kFstsIqe | kFstsIce | kFstsIte | kFstsAfo | kFstsApf)) != 0)
    out.push_back(cat("FSTS ", fsts, " has an error bit set (IQE/ICE/ITE/AFO/APF)"));
  for (unsigned i = 0; i < records_; ++i) {
    const uint64_t lo = api.read_reg64(session, fro_ + 16 * i);
    const uint64_t hi = api.read_reg64(session, fro_ + 16 * i + 8);
    const bool f = (hi >> 63) != 0;
    const auto& want = slots_[i];
    if (f != want.has_value()) {
      out.push_back(cat("FRCD[", i, "].F is ", f, ", expected ", want.has_value(),
                        f ? cat(" (record: SID ", hi & 0xFFFF, " reason ", (hi >> 32) & 0xFF,
                                " address ", lo & ~uint64_t{0xFFF}, ")")
                          : std::string()));
      continue;
    }
    if (!f) continue;
    const auto sid = static_cast<uint16_t>(hi & 0xFFFF);
    const auto reason = static_cast<uint8_t>((hi >> 32) & 0xFF);
    const bool read = ((hi >> 62) & 1) != 0;
    const uint64_t page = lo & ~uint64_t{0xFFF};
    if (sid != want->sid || reason != want->reason || read != want->read || page != want->page)
      out.push_back(cat("FRCD[", i, "] records SID ", sid, " reason ", static_cast<int>(reason),
                        " address ", page, read ? " read" : " write", "; expected SID ", want->sid,
                        " reason ", static_cast<int>(want->reason), " address ", want->page,
                        want->read ? " read" : " write"));
  }
}

void FaultLog::drain(const KnAdapterV1& api, KnAdapterSession* session) {
  if (!enabled_) return;
  const uint32_t fsts = api.read_reg32(session, kRegFsts);
  if ((fsts & kFstsPpf) != 0) {
    unsigned i = (fsts >> kFstsFriShift) & 0xFF;
    for (unsigned n = 0; n < records_; ++n, i = (i + 1) % records_) {
      const uint32_t top = fro_ + 16 * i + 12;
      if ((api.read_reg32(session, top) & kFrcdF) == 0) break;
      api.write_reg32(session, top, kFrcdF);  // RW1C
    }
  }
  if ((fsts & kFstsPfo) != 0) api.write_reg32(session, kRegFsts, kFstsPfo);
  for (auto& s : slots_) s.reset();
  pfo_ = false;
}

}  // namespace kniommu::conformance
