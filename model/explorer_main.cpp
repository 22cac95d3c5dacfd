// kniommu_explore [depth]: explores the default small scope (model/explorer.h) and exits 0 iff no
// invariant is violated. On a violation it prints the invariant names and a shortest trace.
#include <chrono>
#include <cstdlib>
#include <iostream>

#include "model/explorer.h"

int main(int argc, char **argv) {
    using namespace kniommu::model;
    ExploreBounds bounds = default_bounds();
    if (argc > 1) {
        bounds.depth = static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10));
    }
    std::cout << "scope: " << bounds.max_processes << " processes, " << bounds.config.devices.size()
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
    for (const auto &name : r.violated) {
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
