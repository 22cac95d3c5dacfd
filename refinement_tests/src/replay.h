// Writing replay files and the RapidCheck test id a replay names (read_replay_file is in
// kniommu/conformance.h).
#pragma once

#include <fstream>
#include <string>

#include "kniommu/conformance.h"

namespace kniommu::conformance {

// "refinement/<config>" or "refinement/<config>/<mutant>": the property id RapidCheck's
// reproduce strings are keyed by.
std::string replay_test_id(const std::string& config, const std::string& mutant);

void write_replay_file(const std::string& path, const ReplayFile& r,
                       const std::string& counterexample);

}  // namespace kniommu::conformance
