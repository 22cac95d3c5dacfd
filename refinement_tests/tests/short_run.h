// The options of the short, fixed-seed conformance runs the check tests make: one configuration,
// seed 1, `cases` cases, no shrinking, RapidCheck's report only with CHECKS_VERBOSE set. Each test
// changes what it is about on top.
#pragma once

#include <cstdlib>

#include "kniommu/conformance.h"

namespace kniommu::conformance {

inline ConformanceOptions short_run(const char* config, int cases) {
  ConformanceOptions opt;
  opt.configs = {config};
  opt.seed = 1;
  opt.cases = cases;
  opt.verbose = std::getenv("CHECKS_VERBOSE") != nullptr;
  opt.shrink = false;
  return opt;
}

}  // namespace kniommu::conformance
