#include "live/qemu_text.h"

#include "analysis/names.h"

#include <cstdlib>
#include <sstream>

namespace kniommu::live {
namespace {

std::optional<std::uint64_t> hex_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 16);
  if (end == s.c_str()) return std::nullopt;
  return v;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

std::size_t indent_of(const std::string& line) {
  const auto i = line.find_first_not_of(' ');
  return i == std::string::npos ? line.size() : i;
}

}  // namespace

std::optional<std::uint64_t> parse_xp_value(const std::string& xp_output) {
  const auto colon = xp_output.find(": 0x");
  if (colon == std::string::npos) return std::nullopt;
  return hex_number(xp_output.substr(colon + 4));
}

std::vector<RamRange> parse_ram_ranges(const std::string& mtree_flat) {
  std::vector<RamRange> out;
  bool in_memory_view = false;
  for (const auto& line : lines_of(mtree_flat)) {
    if (line.rfind("FlatView", 0) == 0) {
      in_memory_view = false;
      continue;
    }
    if (line.find("AS \"memory\"") != std::string::npos) {
      in_memory_view = true;
      continue;
    }
    if (!in_memory_view || line.find(", ram)") == std::string::npos) continue;
    // "  0000000000100000-000000001fffffff (prio 0, ram): pc.ram @0000000000100000"
    const auto start = line.find_first_not_of(' ');
    const auto dash = line.find('-', start);
    if (start == std::string::npos || dash == std::string::npos) continue;
    const auto first = hex_number(line.substr(start, dash - start));
    const auto last = hex_number(line.substr(dash + 1, 16));
    if (first && last && *first <= *last) out.push_back({*first, *last});
  }
  return out;
}

bool page_in_ram(const std::vector<RamRange>& ram, std::uint64_t pa) {
  for (const auto& r : ram) {
    if (pa >= r.first && pa + 4095 <= r.last && pa + 4095 >= pa) return true;
  }
  return false;
}

QtreeFacts parse_qtree(const std::string& qtree) {
  struct Node {
    std::size_t indent = 0;
    std::string name;
    std::optional<std::uint16_t> bdf;
    std::optional<bool> iommu_platform;
    bool bypass_bus = false;  // bypass-iommu = true: every device below bypasses
    int parent = -1;
  };
  std::vector<Node> nodes;
  std::vector<int> open;  // stack of indices into nodes
  QtreeFacts facts;
  for (const auto& line : lines_of(qtree)) {
    const std::size_t indent = indent_of(line);
    if (indent == line.size()) continue;
    while (!open.empty() && nodes[static_cast<std::size_t>(open.back())].indent >= indent) {
      open.pop_back();
    }
    const std::string body = line.substr(indent);
    if (body.rfind("dev: ", 0) == 0) {
      Node n;
      n.indent = indent;
      n.name = body.substr(
          5, body.find(',') == std::string::npos ? std::string::npos : body.find(',') - 5);
      n.parent = open.empty() ? -1 : open.back();
      nodes.push_back(n);
      open.push_back(static_cast<int>(nodes.size() - 1));
      continue;
    }
    if (open.empty()) continue;
    Node& owner = nodes[static_cast<std::size_t>(open.back())];
    if (indent != owner.indent + 2) continue;  // a nested bus line or a deeper property
    if (body.rfind("iommu_platform = ", 0) == 0) {
      owner.iommu_platform = body.find("true") != std::string::npos;
    } else if (body.rfind("bypass-iommu = true", 0) == 0) {
      owner.bypass_bus = true;
    } else if (body.rfind("class ", 0) == 0) {
      // "class Class 00ff, addr 00:05.0, pci id 1af4:1005 (sub 1af4:0004)": the guest's bus number
      if (const auto at = body.find(", addr "); at != std::string::npos) {
        owner.bdf = audit::parse_bdf(body.substr(at + 7, body.find(',', at + 7) - (at + 7)));
      }
    } else if (body.rfind("mmio ", 0) == 0 && owner.name == "intel-iommu") {
      facts.dmar_base = hex_number(body.substr(5, body.find('/') - 5));
    }
  }
  // Attribute each fact to the PCI function it belongs to (the nearest ancestor with an address).
  const auto pci_ancestor = [&](int i) {
    for (; i >= 0; i = nodes[static_cast<std::size_t>(i)].parent) {
      if (nodes[static_cast<std::size_t>(i)].bdf) return i;
    }
    return -1;
  };
  const auto under_bypass_bus = [&](int i) {
    for (; i >= 0; i = nodes[static_cast<std::size_t>(i)].parent) {
      if (nodes[static_cast<std::size_t>(i)].bypass_bus) return true;
    }
    return false;
  };
  // One DEVICE per PCI function (its name, and whether it bypasses); a virtio device with no
  // PCI function above it (virtio-mmio) gets one without a BDF.
  std::vector<snapshot::DeviceInfo> by_node(nodes.size());
  std::vector<bool> listed(nodes.size(), false);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    const int pci = n.bdf ? static_cast<int>(i) : pci_ancestor(n.parent);
    const bool bypass =
        (n.iommu_platform && !*n.iommu_platform) || (n.bdf && under_bypass_bus(n.parent));
    if (pci < 0) {
      if (!n.iommu_platform) continue;
      facts.devices.push_back({0, static_cast<std::uint16_t>(bypass ? snapshot::kDeviceBypass : 0),
                               n.name.substr(0, snapshot::kMaxNameBytes)});
      continue;
    }
    auto& d = by_node[static_cast<std::size_t>(pci)];
    const Node& fn = nodes[static_cast<std::size_t>(pci)];
    d.bdf = *fn.bdf;
    d.flags |= snapshot::kDeviceBdfKnown | (bypass ? snapshot::kDeviceBypass : 0);
    d.name = fn.name.substr(0, snapshot::kMaxNameBytes);
    listed[static_cast<std::size_t>(pci)] = true;
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (listed[i]) facts.devices.push_back(by_node[i]);
  }
  return facts;
}

}  // namespace kniommu::live
