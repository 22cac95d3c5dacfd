#include "state_checks.h"

#include <sstream>

#include "text.h"

namespace kniommu::conformance {
namespace {

constexpr uint32_t kRegGsts = 0x1C;
constexpr uint32_t kGstsTes = 1u << 31, kGstsRtps = 1u << 30;  // VT-d spec §10.4.5
constexpr unsigned kMaxLevels = 5;

uint64_t live_buffer_frames(const Sut& sut) {
  uint64_t n = 0;
  for (const auto& [bid, b] : sut.model.buffers) {
    auto it = sut.phys.find(bid);
    if (it != sut.phys.end()) n += it->second.size() << b.order;
  }
  return n;
}

// Most table pages a domain with these grants can need (any depth up to 5 levels, 4 KiB leaves):
// its root, and per grant at each level below the root one table per 512^k pages plus one for
// a range that straddles a table boundary.
uint64_t table_bound(const model::State& s, model::DomainSerial dom) {
  uint64_t n = 1;
  for (const auto& [gid, g] : s.grants) {
    if (!g.domain || *g.domain != dom) continue;
    const uint64_t pages = s.buffers.at(g.buffer).footprint_pages();
    for (unsigned k = 1; k < kMaxLevels; ++k) n += (pages >> (9 * k)) + 2;
  }
  return n;
}

}  // namespace

int64_t frames_beyond_visible_tables(const Sut& sut, const HwView& hw) {
  if (sut.api().frames_in_use == nullptr) return 0;
  return static_cast<int64_t>(sut.api().frames_in_use(sut.session())) -
         static_cast<int64_t>(hw.table_pages.size()) -
         static_cast<int64_t>(live_buffer_frames(sut));
}

int64_t frames_beyond_visible_tables(const Sut& sut) {
  const HwView hw =
      sut.model.config.iommu_enabled ? read_hw_view(sut.api(), sut.session(), &sut.view_cache) : HwView{};
  return frames_beyond_visible_tables(sut, hw);
}

void check_protocol_violations(const Sut& sut, std::vector<std::string>& out) {
  if (sut.api().protocol_violation_count == nullptr) {
    sut.coverage().skip(skipped::kProtocolViolations);
    return;
  }
  const uint64_t n = sut.api().protocol_violation_count(sut.session());
  if (n == 0) return;
  std::string log;
  if (sut.api().protocol_violation_log != nullptr) {
    std::vector<char> buf(4096);
    sut.api().protocol_violation_log(sut.session(), buf.data(), buf.size());
    log = buf.data();
  }
  out.push_back(cat("hardware saw ", std::dec, n, " driver protocol violation(s):\n", log));
}

void check_registers(const Sut& sut, std::vector<std::string>& out) {
  if (!sut.model.config.iommu_enabled) return;
  if (!sut.faults.enabled()) {
    sut.coverage().skip(skipped::kFaultRegisters);
    return;
  }
  const uint32_t gsts = sut.api().read_reg32(sut.session(), kRegGsts);
  if ((gsts & kGstsTes) == 0 || (gsts & kGstsRtps) == 0)
    out.push_back(cat("GSTS ", gsts,
                      ": translation (TES) or the root table (RTPS) is "
                      "not enabled"));
  sut.faults.check(sut.api(), sut.session(), out);
}

void check_frames(const Sut& sut, const HwView& hw, std::vector<std::string>& out) {
  if (sut.api().frames_in_use == nullptr) {
    sut.coverage().skip(skipped::kFrameLeaks);
    return;
  }
  // Tables of domains no device shows cannot be seen: allow at most what their grants can need.
  uint64_t hidden = 0;
  for (const auto& [id, d] : sut.model.domains) {
    bool visible = false;
    for (model::Bdf b : d.devices) visible = visible || hw.devices.count(b) != 0;
    if (!visible && sut.model.config.iommu_enabled) hidden += table_bound(sut.model, id);
  }
  const int64_t extra = frames_beyond_visible_tables(sut, hw) - sut.frame_overhead;
  if (extra < 0)
    out.push_back(cat("frames in use are ", std::dec, -extra,
                      " fewer than the live buffers and the "
                      "reachable tables need (a frame freed while in use?)"));
  else if (static_cast<uint64_t>(extra) > hidden)
    out.push_back(cat("frame leak: ", std::dec, extra,
                      " frames in use beyond the live buffers, the "
                      "reachable tables and the fixed overhead (at most ",
                      hidden, " allowed for the tables of domains no device shows)"));
}

void record_hw_coverage(const Sut& sut, const HwView& hw) {
  Coverage& c = sut.coverage();
  if (hw.leaves_2m != 0) c.hit(path::kLeaf2M);
  if (hw.leaves_1g != 0) c.hit(path::kLeaf1G);
  for (const auto& [bdf, dev] : hw.devices) {
    auto dom = model::attachment(sut.model, bdf);
    if (!dom) continue;
    auto [it, fresh] = c.did_owner.emplace(dev.did, *dom);
    if (!fresh && it->second != *dom) {
      if (!sut.model.domains.count(it->second)) c.hit(path::kDidReused);
      it->second = *dom;
    }
  }
}

}  // namespace kniommu::conformance
