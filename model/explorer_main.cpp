// kniommu_explore [--iommu-disabled] [depth]: explores the default small scope (model/explorer.h)
// and exits 0 iff no invariant is violated. On a violation it prints the invariant names and a
// shortest trace and exits 1; bad arguments exit 2.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "model/explorer.h"

int main(int argc, char** argv) {
  using namespace kniommu::model;
  ExploreBounds bounds = default_bounds();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    char* end = nullptr;
    const unsigned long depth = std::strtoul(arg.c_str(), &end, 10);
    if (arg == "--iommu-disabled") {
      bounds.config.iommu_enabled = false;
    } else if (!arg.empty() && *end == '\0' && depth > 0 && depth < 64) {
      bounds.depth = static_cast<unsigned>(depth);
    } else {
      std::cerr << "usage: kniommu_explore [--iommu-disabled] [depth]\n";
      return 2;
    }
  }
  std::cout << "scope: " << (bounds.config.iommu_enabled ? "" : "IOMMU disabled, ")
            << bounds.max_processes << " processes, " << bounds.config.devices.size()
            << " devices, " << bounds.max_created_domains << " created domains, "
            << bounds.max_buffers << " buffers, " << bounds.config.max_domains << " DIDs, depth "
            << bounds.depth << "\n";
  const auto start = std::chrono::steady_clock::now();
  const ExploreReport r = explore(bounds);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  std::cout << "distinct states: " << r.distinct_states << ", transitions: " << r.transitions
            << ", deepest new state at depth " << r.depth_reached << ", " << ms << " ms\n";
  if (r.violated.empty()) {
    std::cout << "no invariant violated\n";
    return 0;
  }
  std::cout << "INVARIANT VIOLATED:";
  for (const auto& name : r.violated) {
    std::cout << " " << name;
  }
  std::cout << "\nTrace (shortest, " << r.trace.size() << " steps):\ninitial state\n";
  if (r.initial.processes.empty()) {
    std::cout << "  (no processes)\n";
  }
  std::cout << r.initial;
  for (size_t i = 0; i < r.trace.size(); ++i) {
    std::cout << "step " << i + 1 << ": " << r.trace[i].action << "\n" << r.trace[i].state;
  }
  return 1;
}
