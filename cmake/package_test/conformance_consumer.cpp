// Runs a few cases of the installed conformance suite against the installed implementation.
#include <cstdio>

#include "kniommu/builtin_adapter.h"
#include "kniommu/conformance.h"

int main() {
  kniommu::conformance::ConformanceOptions options;
  options.seed = 1;
  options.cases = 5;
  options.configs = {"l4_sp"};
  options.verbose = false;
  const auto result = kniommu::conformance::run_conformance(*kniommu_builtin_adapter(), options);
  const int cases = result.outcomes.empty() ? 0 : result.outcomes[0].cases_run;
  std::printf("conformance_consumer: %s, %d cases\n", result.passed ? "conforms" : "FAILED", cases);
  return result.passed && cases > 0 ? 0 : 1;
}
