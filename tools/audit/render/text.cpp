#include <sstream>

#include "analysis/names.h"
#include "render/render.h"

namespace kniommu::audit {
namespace {

void ranges(std::ostringstream& out, const std::vector<Range>& list, const char* indent) {
  if (list.empty()) out << indent << "(nothing)\n";
  for (const auto& r : list) {
    out << indent << hex(r.pa) << "-" << hex(r.end() - 1) << "  " << r.pages << " page"
        << (r.pages == 1 ? " " : "s") << "  " << perms_name(r.perms) << "\n";
  }
}

// Text is for people: at most this many IOVA runs per device (JSON lists them all).
constexpr std::size_t kTextRuns = 256;

void mappings(std::ostringstream& out, const std::vector<Mapping>& list, const char* indent) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i == kTextRuns) {
      out << indent << "... " << list.size() - i << " more runs (all of them in --format json)\n";
      break;
    }
    const Mapping& m = list[i];
    out << indent << "IOVA " << hex(m.iova) << "-" << hex(m.iova + m.pages * 4096 - 1) << " -> PA "
        << hex(m.pa) << "-" << hex(m.pa + m.pages * 4096 - 1) << "  " << m.pages << " page"
        << (m.pages == 1 ? " " : "s") << "  " << perms_name(m.perms) << "\n";
  }
}

template <typename T, typename F>
std::string join(const std::vector<T>& items, F format) {
  std::string s;
  for (const auto& item : items) s += (s.empty() ? "" : ", ") + format(item);
  return s.empty() ? "none" : s;
}

}  // namespace

std::string render_text(const Report& report) {
  std::ostringstream out;
  out << "Remapping unit: CAP " << hex(report.regs.cap) << "  ECAP " << hex(report.regs.ecap)
      << "  translation " << (report.translation_enabled ? "enabled" : "DISABLED") << "\n"
      << "  root table " << hex(report.root_table) << ", " << report.structure_pages
      << " root/context table pages, " << report.sl_table_pages << " second-level table pages, "
      << "host address width " << report.haw << " bits\n\n";

  out << "Devices (" << report.devices.size() << ")\n";
  for (const auto& d : report.devices) {
    out << "  " << bdf_name(d.bdf) << (d.name.empty() ? "" : " (" + d.name + ")") << "  DID "
        << d.did << "  "
        << (d.pass_through ? "TT 2 pass-through"
                           : "TT 0, AW " + std::to_string(d.levels - 2) + " (" +
                                 std::to_string(d.levels) + "-level tables)");
    if (d.bypasses_iommu) out << "  BYPASSES THE IOMMU";
    if (d.owner) {
      out << "  owner process " << *d.owner << ", "
          << (d.kind == snapshot::DomainKind::kCreated ? "created" : "automatic") << " domain";
    }
    out << "\n";
    ranges(out, d.reach, "      ");
    if (!d.mappings.empty() && !d.pass_through) {
      out << "    by IOVA (" << d.mappings.size() << " run" << (d.mappings.size() == 1 ? "" : "s")
          << (d.mappings_truncated ? ", truncated" : "") << "):\n";
      mappings(out, d.mappings, "      ");
    }
  }

  if (report.has_metadata) {
    out << "\nProcesses (" << report.processes.size() << ")\n";
    for (const auto& p : report.processes) {
      out << "  process " << p.pid << (p.name.empty() ? "" : " (" + p.name + ")") << ": domains "
          << join(p.dids, [](std::uint16_t did) { return std::to_string(did); }) << "; devices "
          << join(p.devices, bdf_name) << "\n    buffers:\n";
      ranges(out, p.buffers, "      ");
      out << "    its devices reach:\n";
      ranges(out, p.reach, "      ");
    }
  }

  if (!report.findings.empty()) {
    out << "\nFindings (" << report.findings.size() << ", not violations)\n";
    for (const auto& f : report.findings) {
      out << "  [" << kind_name(f.kind) << "] " << f.message << "\n";
      if (!f.ranges.empty()) ranges(out, f.ranges, "      ");
    }
  }

  out << "\n";
  if (report.violations.empty()) {
    out << "No violations.\n";
  } else {
    out << "Violations (" << report.violations.size() << ")\n";
    for (const auto& v : report.violations) {
      out << "  [" << kind_name(v.kind) << "] " << v.message << "\n";
      if (!v.ranges.empty()) ranges(out, v.ranges, "      ");
    }
  }
  return out.str();
}

}  // namespace kniommu::audit
