#include "analysis/findings.h"

#include <algorithm>
#include <map>
#include <utility>

#include "analysis/names.h"

namespace kniommu::audit {
namespace {

std::string device_list(const Report& report, const std::vector<std::uint16_t>& bdfs) {
  std::string s;
  for (const auto bdf : bdfs) {
    s += (s.empty() ? "" : ", ") + bdf_name(bdf);
    for (const auto& d : report.devices) {
      if (d.bdf == bdf && !d.name.empty()) s += " (" + d.name + ")";
    }
  }
  return s;
}

// 0-16 MiB: the ISA DMA range. Linux's floppy workaround (CONFIG_INTEL_IOMMU_FLOPPY_WA)
// identity-maps it for an ISA/LPC bridge, and every function in that bridge's IOMMU group
// (no ACS on a chipset) shares the domain.
constexpr std::uint64_t kIsaDmaEnd = 16u << 20;

void shared_domains(Report& report) {
  std::map<std::uint16_t, std::vector<std::uint16_t>> by_did;
  for (const auto& d : report.devices) {
    if (!d.pass_through) by_did[d.did].push_back(d.bdf);
  }
  for (const auto& [did, bdfs] : by_did) {
    if (bdfs.size() < 2) continue;
    const std::uint16_t first_bdf = bdfs[0];  // (clang 14 cannot capture structured bindings)
    const auto& first = *std::find_if(report.devices.begin(), report.devices.end(),
                                      [&](const DeviceReport& d) { return d.bdf == first_bdf; });
    Violation v{ViolationKind::kSharedDomain,
                "DID " + std::to_string(did) + " is shared by " + std::to_string(bdfs.size()) +
                    " functions: " + device_list(report, bdfs) + "; each reaches what the others " +
                    "reach (" + std::to_string(page_count(first.reach)) + " pages)"};
    v.dids = {did};
    v.ranges = first.reach;
    report.findings.push_back(std::move(v));
  }
}

void identity_maps(Report& report) {
  std::map<std::uint16_t, std::vector<std::uint16_t>> by_did;
  std::map<std::uint16_t, const DeviceReport*> first;
  for (const auto& d : report.devices) {
    if (d.pass_through) continue;
    by_did[d.did].push_back(d.bdf);
    first.emplace(d.did, &d);
  }
  for (const auto& [did, bdfs] : by_did) {
    std::vector<Range> identity;
    for (const auto& m : first[did]->mappings) {
      if (m.iova == m.pa) identity.push_back({m.pa, m.pages, m.perms});
    }
    identity = normalize(std::move(identity));
    if (identity.empty()) continue;
    const bool isa = identity.front().pa == 0 && identity.front().end() >= kIsaDmaEnd;
    Violation v{ViolationKind::kIdentityMap,
                "DID " + std::to_string(did) + " (" + device_list(report, bdfs) + ") maps " +
                    std::to_string(page_count(identity)) + " pages identity (IOVA = PA)" +
                    (isa ? ", including all of 0-16 MiB (the ISA DMA range: on Linux the LPC "
                           "floppy workaround, shared by every function in the bridge's group)"
                         : "")};
    v.dids = {did};
    v.ranges = std::move(identity);
    report.findings.push_back(std::move(v));
  }
}

void empty_domains(Report& report) {
  for (const auto& d : report.devices) {
    if (d.pass_through || !d.reach.empty()) continue;
    Violation v{ViolationKind::kEmptyDomain,
                "device " + device_list(report, {d.bdf}) + " has a present context entry (DID " +
                    std::to_string(d.did) + ") whose domain maps nothing" +
                    (d.bypasses_iommu ? ", yet its DMA bypasses the IOMMU (see iommu-bypass)"
                                      : ": no driver, or no DMA mapped at this moment")};
    v.bdf = d.bdf;
    v.dids = {d.did};
    report.findings.push_back(std::move(v));
  }
}

void aliases(Report& report) {
  std::map<std::uint16_t, bool> done;
  for (const auto& d : report.devices) {
    if (d.pass_through || done[d.did]) continue;
    done[d.did] = true;
    auto hit = aliased_pages(d.mappings);
    if (hit.empty()) continue;
    Violation v{ViolationKind::kAliasedPages,
                "DID " + std::to_string(d.did) + ": " + std::to_string(page_count(hit)) +
                    " physical page(s) are reached through more than one IOVA (sub-page buffers "
                    "such as 2 KiB receive fragments: each IOVA exposes the whole 4 KiB page, "
                    "including its neighbours' bytes)"};
    v.dids = {d.did};
    v.ranges = std::move(hit);
    report.findings.push_back(std::move(v));
  }
}

void forced_read(Report& report) {
  std::uint64_t writable = 0, write_only = 0;
  std::map<std::uint16_t, bool> done;
  for (const auto& d : report.devices) {
    if (d.pass_through || done[d.did]) continue;
    done[d.did] = true;
    for (const auto& m : d.mappings) {
      if ((m.perms & kWrite) != 0) writable += m.pages;
      if (m.perms == kWrite) write_only += m.pages;
    }
  }
  if (writable == 0 || write_only != 0) return;
  report.findings.push_back(
      {ViolationKind::kReadForced,
       "none of the " + std::to_string(writable) +
           " writable IOVA pages is write-only: the OS sets R on every entry, so buffers mapped "
           "for device writes only (DMA_FROM_DEVICE) are device-readable too (Linux 6.1 does "
           "this; kernels with write-only entries restored do not)"});
}

void truncated(Report& report) {
  for (const auto& d : report.devices) {
    if (!d.mappings_truncated) continue;
    Violation v{ViolationKind::kMappingsTruncated,
                "device " + bdf_name(d.bdf) + ": the IOVA list stops after " +
                    std::to_string(kMaxMappingLeaves) +
                    " leaves (tables aliasing each other); its physical reach is complete"};
    v.bdf = d.bdf;
    report.findings.push_back(std::move(v));
  }
}

void bypass(Report& report) {
  for (const auto& p : report.platform_devices) {
    if ((p.flags & snapshot::kDeviceBypass) == 0) continue;
    const bool known = (p.flags & snapshot::kDeviceBdfKnown) != 0;
    Violation v{ViolationKind::kIommuBypass,
                "device " + (known ? bdf_name(p.bdf) + " " : std::string()) + "(" + p.name +
                    ") bypasses the IOMMU: the platform does not translate its DMA (virtio "
                    "without iommu_platform, or a bus with bypass-iommu), so it reaches all "
                    "guest memory whatever its context entry says; the tables cannot show this"};
    if (known) v.bdf = p.bdf;
    report.violations.push_back(std::move(v));
  }
}

}  // namespace

std::vector<Range> aliased_pages(const std::vector<Mapping>& mappings) {
  // Sweep over physical page numbers: +1 where a mapping starts, -1 where it ends; wherever the
  // count is 2 or more, several IOVAs translate to that page.
  std::vector<std::pair<std::uint64_t, int>> edges;
  edges.reserve(mappings.size() * 2);
  for (const auto& m : mappings) {
    edges.emplace_back(m.pa >> 12, +1);
    edges.emplace_back((m.pa >> 12) + m.pages, -1);
  }
  std::sort(edges.begin(), edges.end());
  std::vector<Range> out;
  int depth = 0;
  std::uint64_t start = 0;
  for (const auto& [page, delta] : edges) {
    const int before = depth;
    depth += delta;
    if (before < 2 && depth >= 2) start = page;
    if (before >= 2 && depth < 2 && page > start) out.push_back({start << 12, page - start, kRead});
  }
  for (auto& r : out) r.perms = kRead | kWrite;  // permission is not the point here
  return normalize(std::move(out));
}

void add_findings(Report& report) {
  for (auto& d : report.devices) {
    for (const auto& p : report.platform_devices) {
      if ((p.flags & snapshot::kDeviceBdfKnown) == 0 || p.bdf != d.bdf) continue;
      d.name = p.name;
      d.bypasses_iommu = d.bypasses_iommu || (p.flags & snapshot::kDeviceBypass) != 0;
    }
  }
  bypass(report);
  shared_domains(report);
  identity_maps(report);
  empty_domains(report);
  aliases(report);
  forced_read(report);
  truncated(report);
}

}  // namespace kniommu::audit
