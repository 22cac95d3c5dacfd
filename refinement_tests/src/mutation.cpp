// Mutation adequacy: a mutant counts as caught when the refinement suite fails on some hardware
// configuration within the budget (cases x length) of the options. Configurations are tried in a
// fixed order and the first one that catches the mutant is recorded.
#include <chrono>

#include "kniommu/conformance.h"

namespace kniommu::conformance {

std::vector<MutantOutcome> run_mutation_adequacy(const KnAdapterV1& adapter,
                                                 const std::vector<std::string>& mutants,
                                                 const ConformanceOptions& options) {
  std::vector<std::string> configs = options.configs;
  if (configs.empty())
    for (const HwConfig& c :
         options.hardware == KN_SIM_HARDWARE_QEMU ? qemu_configs() : standard_configs())
      if (c.sim.iommu_enabled) configs.push_back(c.name);  // no isolation to break when disabled
  // A configuration judges mutants only if the unmutated implementation passes on it with the
  // same budget; otherwise a "catch" could be the baseline failure.
  std::vector<std::string> usable;
  std::string baseline_failures;
  for (const std::string& cfg : configs) {
    ConformanceOptions opt = options;
    opt.configs = {cfg};
    opt.mutant.clear();
    const ConformanceResult r = run_conformance(adapter, opt);
    if (r.passed)
      usable.push_back(cfg);
    else
      baseline_failures += " " + cfg;
  }
  std::vector<MutantOutcome> out;
  for (const std::string& m : mutants) {
    MutantOutcome mo;
    mo.mutant = m;
    const auto t0 = std::chrono::steady_clock::now();
    if (!baseline_failures.empty())
      mo.failure = "configurations failing without any mutant (not used):" + baseline_failures;
    for (const std::string& cfg : usable) {
      ConformanceOptions opt = options;
      opt.configs = {cfg};
      opt.mutant = m;
      const ConformanceResult r = run_conformance(adapter, opt);
      const ConfigOutcome& o = r.outcomes.at(0);
      if (o.status == ConfigOutcome::Status::Failed) {
        mo.caught = true;
        mo.config = cfg;
        mo.commands_to_failure = o.counterexample_length;
        mo.cases_to_failure = o.cases_run;
        mo.failure = o.failure;
        break;
      }
      if (o.status == ConfigOutcome::Status::Error) mo.failure = o.failure;
    }
    mo.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out.push_back(std::move(mo));
  }
  return out;
}

}  // namespace kniommu::conformance
