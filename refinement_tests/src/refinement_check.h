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

}  // namespace kniommu::conformance
