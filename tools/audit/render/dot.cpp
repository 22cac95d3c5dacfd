#include <map>
#include <set>
#include <sstream>

#include "analysis/names.h"
#include "render/render.h"

namespace kniommu::audit {
namespace {

std::string domain_node(std::uint16_t did) { return "d" + std::to_string(did); }
std::string device_node(std::uint16_t bdf) { return "dev" + std::to_string(bdf); }
std::string buffer_node(const snapshot::Buffer& b) {
  return "b" + std::to_string(b.pid) + "_" + std::to_string(b.id);
}

}  // namespace

// Left to right: processes own domains, domains hold devices, devices reach buffers. Anything a
// violation names is drawn red, so the picture shows at a glance where isolation is broken.
std::string render_dot(const Report& report) {
  std::set<std::uint16_t> bad_devices;
  std::set<std::uint16_t> bad_domains;
  for (const auto& v : report.violations) {
    if (v.bdf) bad_devices.insert(*v.bdf);
    bad_domains.insert(v.dids.begin(), v.dids.end());
  }
  const auto red = [](bool bad) { return bad ? ", color=red, fontcolor=red, penwidth=2" : ""; };

  std::ostringstream out;
  out << "digraph kniommu {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
      << "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  for (const auto& p : report.processes) {
    out << "  p" << p.pid
        << " [shape=box, style=\"rounded,filled\", fillcolor=\"#dde8f7\", label=\"process " << p.pid
        << (p.name.empty() ? "" : "\\n" + p.name) << "\"];\n";
  }
  std::map<std::uint16_t, const snapshot::Domain*> owners;
  for (const auto& d : report.domains) owners[d.did] = &d;
  std::set<std::uint16_t> dids;
  for (const auto& d : report.devices) dids.insert(d.did);
  for (const auto& d : report.domains) dids.insert(d.did);
  for (const auto did : dids) {
    const auto it = owners.find(did);
    const char* kind = it == owners.end()                                   ? "unowned"
                       : it->second->kind == snapshot::DomainKind::kCreated ? "created"
                                                                            : "automatic";
    out << "  " << domain_node(did) << " [shape=ellipse, label=\"domain DID " << did << "\\n"
        << kind << "\"" << red(bad_domains.contains(did) || it == owners.end()) << "];\n";
    if (it != owners.end())
      out << "  p" << it->second->pid << " -> " << domain_node(did) << " [label=\"owns\"];\n";
  }
  for (const auto& b : report.buffers) {
    std::uint64_t pages = 0;
    for (const auto& r : b.ranges) pages += r.pages;
    out << "  " << buffer_node(b) << " [shape=note, label=\"buffer " << b.id << " of process "
        << b.pid << "\\n"
        << pages * 4 << " KiB " << perms_name(b.perms) << "\"];\n";
  }
  for (const auto& d : report.devices) {
    out << "  " << device_node(d.bdf) << " [shape=component, label=\"device " << bdf_name(d.bdf)
        << (d.name.empty() ? "" : "\\n" + d.name) << (d.pass_through ? "\\npass-through" : "")
        << (d.bypasses_iommu ? "\\nBYPASSES IOMMU" : "")
        << (d.reach.empty() || d.owner
                ? ""
                : "\\nreaches " + std::to_string(page_count(d.reach)) + " pages")
        << "\"" << red(bad_devices.contains(d.bdf)) << "];\n";
    out << "  " << domain_node(d.did) << " -> " << device_node(d.bdf) << " [label=\"attached\"];\n";
    for (const auto& hit : buffers_reached(report, d)) {
      const bool foreign = !d.owner || hit.buffer->pid != *d.owner;
      out << "  " << device_node(d.bdf) << " -> " << buffer_node(*hit.buffer) << " [label=\""
          << perms_name(hit.perms) << "\"" << red(foreign) << "];\n";
    }
  }
  // Violations that name pages outside every buffer get a node of their own.
  std::size_t n = 0;
  for (const auto& v : report.violations) {
    if (v.ranges.empty() || !v.bdf ||
        (v.kind != ViolationKind::kOutsideBuffers && v.kind != ViolationKind::kReachesTables &&
         v.kind != ViolationKind::kUnownedDomain)) {
      continue;
    }
    out << "  v" << n << " [shape=octagon, color=red, fontcolor=red, label=\"" << kind_name(v.kind)
        << "\\n"
        << page_count(v.ranges) << " page(s)\"];\n"
        << "  " << device_node(*v.bdf) << " -> v" << n << " [color=red];\n";
    ++n;
  }
  out << "}\n";
  return out.str();
}

}  // namespace kniommu::audit
