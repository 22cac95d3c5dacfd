// Writes conformance-suite traces for trace validation (spec/run_traces.sh, spec/README.md):
//   kniommu_trace_cases suite DIR CONFIG CASES LENGTH SEED [MUTANT]
//       CASES random cases of at most LENGTH commands on hardware configuration CONFIG (seed
//       SEED, no shrinking), each written to DIR; with MUTANT the first failing case ends the
//       run and its trace is the one named *-failed.trace.tla.
//   kniommu_trace_cases directed DIR CONFIG close|attach-twice [MUTANT]
//       one directed case: "close" = begin a grant, DMA into it, close it, DMA again (must
//       fault); "attach-twice" = process 1 attaches a device, process 2 attaches the same one.
// Exit status 0 when the traces were written (a failing case under MUTANT is expected).
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <rapidcheck.h>

#include "commands.h"
#include "kniommu/builtin_adapter.h"
#include "kniommu/conformance.h"
#include "sut.h"
#include "trace_writer.h"

namespace kc = kniommu::conformance;
namespace model = kniommu::model;

namespace {

int usage() {
  std::cerr << "usage: kniommu_trace_cases suite DIR CONFIG CASES LENGTH SEED [MUTANT]\n"
               "       kniommu_trace_cases directed DIR CONFIG close|attach-twice [MUTANT]\n";
  return 2;
}

struct MutantScope {
  explicit MutantScope(const std::string& name) {
    const auto* a = kniommu_builtin_adapter();
    ok = name.empty() || (a->select_mutant != nullptr && a->select_mutant(name.c_str()) == rcOk);
  }
  ~MutantScope() {
    const auto* a = kniommu_builtin_adapter();
    if (a->select_mutant != nullptr) a->select_mutant("");
  }
  MutantScope(const MutantScope&) = delete;
  MutantScope& operator=(const MutantScope&) = delete;
  bool ok = false;
};

int suite(const std::string& dir, const std::string& config, int cases, int length, uint64_t seed,
          const std::string& mutant) {
  kc::ConformanceOptions opt;
  opt.configs = {config};
  opt.seed = seed == 0 ? 1 : seed;
  opt.cases = cases;
  opt.max_length = length;
  opt.shrink = false;
  opt.verbose = false;
  opt.mutant = mutant;
  opt.trace_dir = dir;
  const kc::ConformanceResult r = kc::run_conformance(*kniommu_builtin_adapter(), opt);
  for (const auto& o : r.outcomes) {
    std::cout << config << ": " << kc::status_name(o.status) << " after " << o.cases_run << " cases"
              << (o.failure.empty() ? "" : ": " + o.failure.substr(0, 200)) << "\n";
    if (o.status == kc::ConfigOutcome::Status::Error ||
        o.status == kc::ConfigOutcome::Status::Unsupported)
      return 1;
  }
  return r.passed || !mutant.empty() ? 0 : 1;
}

int directed(const std::string& dir, const std::string& config, const std::string& which) {
  const auto cfg = kc::find_config(config);
  if (!cfg || cfg->devices.empty()) return usage();
  kc::Sut sut(*kniommu_builtin_adapter(), *cfg, 2);
  if (!sut.ok()) {
    std::cerr << sut.error() << "\n";
    return 1;
  }
  model::State gen = sut.model;
  const model::Bdf dev = cfg->devices.front();
  const kc::trace::TraceCase trace(dir, sut);
  // Runs one command; returns the handle it created for `pid` (0 if none or after a failure).
  std::string failure;
  auto step = [&](const kc::CmdPtr& c, model::Pid pid) -> Handle {
    if (!failure.empty()) return 0;
    const auto before = sut.model.processes.at(pid).handles;
    try {
      c->checkPreconditions(gen);
      c->run(gen, sut);
      c->apply(gen);
    } catch (const rc::detail::CaseResult& r) {
      std::ostringstream os;
      c->show(os);
      failure = os.str() + ": " + r.description;
      return 0;
    }
    for (const auto& [h, e] : sut.model.processes.at(pid).handles)
      if (!before.count(h)) return h;
    return 0;
  };
  if (which == "close") {
    step(kc::cmd::attach_device(1, dev), 1);
    const Handle buf = step(kc::cmd::dma_create(1, 0, 4096, DMA_DIR_BIDIR), 1);
    const Handle grant = step(kc::cmd::dma_begin(1, buf), 1);
    kc::DmaProbe p;
    p.bdf = dev;
    p.len = 8;
    p.pid = 1;
    p.handle = grant;
    p.edge = kc::Edge::First;
    step(kc::cmd::dma(p), 1);
    step(kc::cmd::handle_close(1, grant, false), 1);
    step(kc::cmd::dma(p), 1);
  } else if (which == "attach-twice") {
    step(kc::cmd::attach_device(1, dev), 1);
    step(kc::cmd::attach_device(2, dev), 2);
  } else {
    return usage();
  }
  if (!failure.empty()) trace.mark_failed();
  std::cout << "directed " << which << " on " << config << ": "
            << (failure.empty() ? "refines the model" : "suite reports: " + failure) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() >= 6 && a[0] == "suite") {
    const std::string mutant = a.size() > 6 ? a[6] : "";
    const MutantScope m(mutant);
    if (!mutant.empty() && !m.ok) return usage();
    return suite(a[1], a[2], std::atoi(a[3].c_str()), std::atoi(a[4].c_str()),
                 std::strtoull(a[5].c_str(), nullptr, 10), mutant);
  }
  if (a.size() >= 4 && a[0] == "directed") {
    const std::string mutant = a.size() > 4 ? a[4] : "";
    const MutantScope m(mutant);
    if (!mutant.empty() && !m.ok) return usage();
    return directed(a[1], a[2], a[3]);
  }
  return usage();
}
