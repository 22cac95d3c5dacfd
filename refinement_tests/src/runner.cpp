// run_conformance: one RapidCheck property per hardware configuration, driven programmatically
// (rc::detail::checkProperty with explicit TestParams), so seed, case count, sequence length and
// replay come from ConformanceOptions; RC_PARAMS still supplies defaults and `reproduce=`.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include "commands.h"
#include "coverage.h"
#include "kniommu/conformance.h"
#include "sut.h"
#include "trace_writer.h"

namespace kniommu::conformance {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kDefaultCases = 150;
constexpr int kDefaultLength = 50;
constexpr int kRcDefault = 100;  // RapidCheck's own default for max_success and max_size
constexpr int kInitialProcesses = 2;

bool deep() {
  const char* v = std::getenv("KNIOMMU_DEEP");
  return v != nullptr && *v != '\0' && *v != '0';
}

class QuietListener final : public rc::detail::TestListener {
 public:
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool) override {}
  void onTestFinished(const rc::detail::TestMetadata&, const rc::detail::TestResult&) override {}
};

struct Replay {
  std::string config, mutant, rc_params;
  uint64_t seed = 0;
};

bool read_replay(const std::string& path, Replay& out) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos || line[0] == '#') continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "config")
      out.config = value;
    else if (key == "mutant")
      out.mutant = value;
    else if (key == "RC_PARAMS")
      out.rc_params = value;
    else if (key == "seed")
      out.seed = std::strtoull(value.c_str(), nullptr, 10);
  }
  return !out.config.empty() && !out.rc_params.empty();
}

void write_replay(const std::string& path, const ConfigOutcome& o, const std::string& mutant) {
  std::ofstream out(path);
  out << "# kniommu conformance failure (docs/reproducing.md)\n"
      << "config=" << o.config << "\nmutant=" << mutant << "\nseed=" << o.seed
      << "\nRC_PARAMS=" << o.rc_params << "\n";
  std::istringstream lines(o.counterexample);
  for (std::string l; std::getline(lines, l);) out << "# " << l << "\n";
}

ConfigOutcome error_outcome(std::string config, std::string failure) {
  ConfigOutcome o;
  o.config = std::move(config);
  o.status = ConfigOutcome::Status::Error;
  o.failure = std::move(failure);
  return o;
}

int count_commands(const std::string& text) {
  int n = 0;
  std::istringstream lines(text);
  for (std::string l; std::getline(lines, l);)
    if (l.find('(') != std::string::npos) ++n;
  return n;
}

std::string test_id(const std::string& config, const std::string& mutant) {
  return mutant.empty() ? "refinement/" + config : "refinement/" + config + "/" + mutant;
}

// The state shared between the property body and the runner for one configuration.
struct RunState {
  const KnAdapterV1* api = nullptr;
  const HwConfig* config = nullptr;
  const ConformanceOptions* options = nullptr;
  bool replaying = false;
  bool shrinking = false;  // a case failed: every later call is a shrink step, never skipped
  bool budget_exhausted = false;
  int next_case = 0;
  int cases_run = 0;
  int cases_total = 0;
  Clock::time_point start;
  Coverage coverage;
};

void run_case(RunState& st) {
  if (!st.replaying && !st.shrinking) {
    const int k = st.next_case++;
    if (st.options->shard_count > 1 &&
        static_cast<unsigned>(k) % st.options->shard_count != st.options->shard_index)
      return;
    if (st.options->time_budget.count() > 0 && Clock::now() - st.start > st.options->time_budget) {
      st.budget_exhausted = true;
      return;
    }
    ++st.cases_run;
    if (st.options->progress)
      st.options->progress(Progress{st.config->name, st.cases_run, st.cases_total});
  }
  Sut sut(*st.api, *st.config, kInitialProcesses, &st.coverage);
  if (!sut.ok()) RC_FAIL("cannot set up the system: " + sut.error());
  const trace::TraceCase trace(st.options->trace_dir, sut);  // --trace-out: no-op when empty
  try {
    rc::state::check(sut.model, sut, &gen_command);
  } catch (const rc::detail::CaseResult& r) {
    if (r.type == rc::detail::CaseResult::Type::Failure) st.shrinking = true;
    throw;
  } catch (...) {
    st.shrinking = true;
    throw;
  }
}

ConfigOutcome run_config(const KnAdapterV1& api, const HwConfig& cfg, const ConformanceOptions& opt,
                         const rc::detail::TestParams& params,
                         const std::unordered_map<std::string, rc::detail::Reproduce>& reproduce) {
  ConfigOutcome out;
  out.config = cfg.name;
  out.seed = params.seed;
  const auto t0 = Clock::now();
  {  // Unsupported configurations are reported, not failed.
    KnAdapterSession* probe = nullptr;
    const KnSimConfig sim = cfg.make_sim();
    const Retcode rc = api.system_create(&sim, &probe);
    if (rc != rcOk) {
      out.status = rc == rcInvalidArgument ? ConfigOutcome::Status::Unsupported
                                           : ConfigOutcome::Status::Error;
      out.failure = std::string("system_create: ") + KnRetcodeName(rc);
      return out;
    }
    api.system_destroy(probe);
  }
  RunState st;
  st.api = &api;
  st.config = &cfg;
  st.options = &opt;
  const std::string id = test_id(cfg.name, opt.mutant);
  st.replaying = reproduce.count(id) != 0;
  st.cases_total = opt.shard_count > 1 ? (params.maxSuccess + static_cast<int>(opt.shard_count) -
                                          1 - static_cast<int>(opt.shard_index)) /
                                             static_cast<int>(opt.shard_count)
                                       : params.maxSuccess;
  st.start = t0;
  rc::detail::TestMetadata meta;
  meta.id = id;
  meta.description = id;
  QuietListener listener;
  const auto result = rc::detail::checkProperty(rc::detail::toProperty([&st] { run_case(st); }),
                                                meta, params, listener, reproduce);
  out.cases_run = st.replaying ? 1 : st.cases_run;
  out.budget_exhausted = st.budget_exhausted;
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  rc::detail::FailureResult failure;
  rc::detail::GaveUpResult gave_up;
  rc::detail::Error error;
  if (result.match(failure)) {
    out.status = ConfigOutcome::Status::Failed;
    out.failure = failure.description;
    std::ostringstream ce;
    for (const auto& [type, value] : failure.counterExample) ce << value << "\n";
    out.counterexample = ce.str();
    out.counterexample_length = count_commands(out.counterexample);
    rc::detail::Configuration rcfg;
    rcfg.reproduce[id] = failure.reproduce;
    // Only the reproduce=... token: the rest of the minimal string (e.g. seed) does not matter.
    const std::string all = rc::detail::configToMinimalString(rcfg);
    const auto at = all.find("reproduce=");
    out.rc_params = at == std::string::npos ? all : all.substr(at, all.find(' ', at) - at);
  } else if (result.match(gave_up)) {
    out.status = ConfigOutcome::Status::Error;
    out.failure = "gave up: " + gave_up.description;
  } else if (result.match(error)) {
    out.status = ConfigOutcome::Status::Error;
    out.failure = error.description;
  }
  out.reached = st.coverage.reached;
  out.skipped = st.coverage.skipped;
  // A default run (default budget; no mutant, shard, time limit or replay) must reach every path
  // the configuration has: a pass that never exercised one proves nothing about it.
  const bool default_run = opt.cases == 0 && params.maxSuccess >= kDefaultCases &&
                           opt.mutant.empty() && !st.replaying && opt.shard_count == 1 &&
                           !st.budget_exhausted;
  if (out.status == ConfigOutcome::Status::Passed && opt.require_paths.value_or(default_run)) {
    std::string missing;
    for (const std::string& p : required_paths(cfg))
      if (!out.reached.count(p)) missing += " " + p;
    if (!missing.empty()) {
      out.status = ConfigOutcome::Status::Failed;
      out.failure = "paths never reached in " + std::to_string(out.cases_run) + " cases:" + missing;
    }
  }
  if (opt.verbose) {
    std::cerr << "[" << id << "] " << status_name(out.status) << " after " << out.cases_run
              << " cases (" << out.seconds << " s"
              << (out.budget_exhausted ? ", time budget reached" : "") << ")\n";
    std::cerr << "  paths reached:";
    for (const auto& [p, n] : out.reached) std::cerr << " " << p << "=" << n;
    std::cerr << "\n";
    for (const auto& [c, n] : out.skipped)
      std::cerr << "  check SKIPPED (adapter lacks the entry): " << c << ", " << n << " times\n";
    if (out.status == ConfigOutcome::Status::Failed && !out.rc_params.empty()) {
      std::cerr << "Falsifiable after " << failure.numSuccess << " cases. Shrunk counterexample ("
                << out.counterexample_length << " commands):\n"
                << out.counterexample << "Failure:\n"
                << out.failure << "\n"
                << "Reproduce: RC_PARAMS=\"" << out.rc_params << "\""
                << (opt.mutant.empty() ? std::string()
                                       : " kniommu_refinement_mutants mutant " + opt.mutant + " " +
                                             cfg.name)
                << "\n";
    } else if (out.status != ConfigOutcome::Status::Passed) {
      std::cerr << out.failure << "\n";
    }
  }
  return out;
}

}  // namespace

const char* status_name(ConfigOutcome::Status s) {
  switch (s) {
    case ConfigOutcome::Status::Passed:
      return "passed";
    case ConfigOutcome::Status::Failed:
      return "FAILED";
    case ConfigOutcome::Status::Unsupported:
      return "unsupported";
    case ConfigOutcome::Status::Error:
      return "ERROR";
  }
  return "?";
}

ConformanceResult run_conformance(const KnAdapterV1& adapter, const ConformanceOptions& options) {
  ConformanceResult result;
  // A table from before the later optional entries is read as if those were NULL.
  KnAdapterV1 api{};
  if (adapter.struct_size >= KN_ADAPTER_V1_MIN_SIZE)
    std::memcpy(&api, &adapter, std::min<size_t>(adapter.struct_size, sizeof api));
  if (adapter.abi_version != KN_ADAPTER_ABI_VERSION ||
      adapter.struct_size < KN_ADAPTER_V1_MIN_SIZE) {
    ConfigOutcome bad;
    bad.config = "*";
    bad.status = ConfigOutcome::Status::Error;
    bad.failure = "adapter ABI version/size not supported";
    result.outcomes.push_back(bad);
    result.passed = false;
    return result;
  }
  ConformanceOptions opt = options;
  const rc::detail::Configuration& global = rc::detail::configuration();
  std::unordered_map<std::string, rc::detail::Reproduce> reproduce = global.reproduce;
  if (!opt.replay_in.empty()) {
    Replay r;
    if (!read_replay(opt.replay_in, r)) {
      result.passed = false;
      result.outcomes.push_back(error_outcome("*", "cannot read replay file " + opt.replay_in));
      return result;
    }
    opt.configs = {r.config};
    opt.mutant = r.mutant;
    opt.seed = r.seed;
    reproduce = rc::detail::configFromString(r.rc_params).reproduce;
  }
  rc::detail::TestParams params = global.testParams;
  if (opt.seed != 0) params.seed = opt.seed;
  const int mult = deep() ? 10 : 1;
  params.maxSuccess =
      opt.cases > 0 ? opt.cases
                    : (params.maxSuccess != kRcDefault ? params.maxSuccess : kDefaultCases * mult);
  params.maxSize =
      opt.max_length > 0
          ? opt.max_length
          : (params.maxSize != kRcDefault ? params.maxSize : kDefaultLength * (deep() ? 3 : 1));
  params.disableShrinking = params.disableShrinking || !opt.shrink;

  std::vector<HwConfig> configs;
  if (opt.configs.empty())
    configs = opt.hardware == KN_SIM_HARDWARE_QEMU ? qemu_configs() : standard_configs();
  for (const std::string& name : opt.configs) {
    if (auto c = find_config_for(name, opt.hardware))
      configs.push_back(*c);
    else
      result.outcomes.push_back(error_outcome(name, "unknown configuration"));
  }
  if (api.select_mutant != nullptr) {
    const Retcode rc = api.select_mutant(opt.mutant.c_str());
    if (rc != rcOk) {
      result.passed = false;
      result.outcomes.push_back(error_outcome("*", "cannot select mutant '" + opt.mutant + "': " + KnRetcodeName(rc)));
      return result;
    }
  } else if (!opt.mutant.empty()) {
    result.passed = false;
    result.outcomes.push_back(error_outcome("*", "adapter has no mutants"));
    return result;
  }
  for (HwConfig& cfg : configs) cfg.sim.hardware = opt.hardware;
  for (const HwConfig& cfg : configs) {
    take_skips();
    ConfigOutcome o = run_config(api, cfg, opt, params, reproduce);
    for (const auto& [what, n] : take_skips()) o.skipped[what] += n;
    if (opt.verbose)
      for (const auto& [what, n] : o.skipped)
        std::cerr << "  [" << o.config << "] skipped " << n << "x: " << what << "\n";
    if (o.status == ConfigOutcome::Status::Failed && !opt.replay_out.empty())
      write_replay(opt.replay_out, o, opt.mutant);
    result.outcomes.push_back(std::move(o));
  }
  if (api.select_mutant != nullptr) api.select_mutant("");
  for (const ConfigOutcome& o : result.outcomes)
    if (o.status == ConfigOutcome::Status::Failed || o.status == ConfigOutcome::Status::Error)
      result.passed = false;
  return result;
}

}  // namespace kniommu::conformance
