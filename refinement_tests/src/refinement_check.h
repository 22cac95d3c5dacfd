// The refinement relation checked after every command: the abstraction of the hardware-visible
// state equals the model's view, caches hold nothing the model forbids, no frame was freed while
// reachable, and the model's own invariants hold.
#pragma once

#include <string>
#include <vector>

#include "sut.h"

namespace kniommu::conformance {

// Expected translation of every model domain (grants x physical blocks from GetPhysInfo).
std::map<model::DomainSerial, Runs> expected_domain_runs(const model::State& s, const Sut& sut);

// Every discrepancy, as readable text (empty = the implementation refines the model here).
std::vector<std::string> check_refinement(const Sut& sut);

// With frame write generations: one verifying view (hw_view.h ViewCache) of the machine as the
// case left it, so that the last state of every case is judged on a full read of its tables even
// when the periodic verifying views did not fall on it. The frames whose bytes changed at an
// unchanged generation, as discrepancies (empty: none, or generations not in use).
std::vector<std::string> verify_kept_tables(const Sut& sut);

}  // namespace kniommu::conformance
