// run_conformance: one RapidCheck property per hardware configuration, driven programmatically
// (rc::detail::checkProperty with explicit TestParams), so seed, case count, sequence length and
// replay come from ConformanceOptions; RC_PARAMS still supplies defaults and `reproduce=`.
// Commands are generated here, in the runner; each case then executes in a child process
// (isolated_case.h), so a crash or hang of the implementation fails only that case. By default a
// configuration first runs optimistically: all its cases in one child, falling back to the
// per-case children on any failure (run_config).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>

#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include "commands.h"
#include "config_report.h"
#include "coverage.h"
#include "coverage_counters.h"
#include "coverage_requirements.h"
#include "isolated_case.h"
#include "refinement_check.h"
#include "kniommu/conformance.h"
#include "replay.h"
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

// RapidCheck prints "Using configuration: ..." to std::cerr when its configuration is first
// read; the tools print the one seed a run uses themselves, so that line is swallowed.
const rc::detail::Configuration& quiet_configuration() {
  static const rc::detail::Configuration& config = [&]() -> const rc::detail::Configuration& {
    std::ostringstream swallow;
    std::streambuf* saved = std::cerr.rdbuf(swallow.rdbuf());
    const rc::detail::Configuration& c = rc::detail::configuration();
    std::cerr.rdbuf(saved);
    return c;
  }();
  return config;
}

// CPU seconds (user + system) of this process and of its children reaped so far (the isolated
// cases).
double cpu_seconds_so_far() {
  double total = 0;
  for (const int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage u{};
    if (::getrusage(who, &u) != 0) continue;
    for (const timeval& t : {u.ru_utime, u.ru_stime})
      total += static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  }
  return total;
}

model::State initial_model(const HwConfig& cfg) {
  model::State s = model::initial_state(model_config(cfg));
  for (int i = 0; i < kInitialProcesses; ++i) model::process_create(s);
  return s;
}

// The state shared between the property body and the runner for one configuration.
struct RunState {
  const KnAdapterV1* api = nullptr;
  const HwConfig* config = nullptr;
  const ConformanceOptions* options = nullptr;
  bool replaying = false;
  bool in_child = false;   // the optimistic configuration child: cases run in this process
  bool shrinking = false;  // a case failed: every later call is a shrink step, never skipped
  bool budget_exhausted = false;
  int next_case = 0;
  int cases_run = 0;
  int cases_total = 0;
  uint64_t commands = 0;
  std::string last_failure;  // of the last failing run (shrink steps included)
  coverage::Counts counts;
  std::vector<SlowCase> slowest;
  Clock::time_point start;
  Coverage coverage;
};

// One case in the child (or in process with isolate = false): a fresh machine, the generated
// commands, every check. The machine is torn down inside too, so a crash there is isolated.
template <class Commands>
CaseReport execute_case(const RunState& st, const model::State& init, const Commands& commands) {
  CaseReport r;
  coverage::begin_case(&r.counts);
  Coverage paths;  // the path-reach counters (coverage.h) of this case, sent back to the parent
  paths.did_owner = st.coverage.did_owner;
  try {
    Sut sut(*st.api, *st.config, kInitialProcesses, &paths);
    if (!sut.ok()) {
      r.kind = CaseReport::Kind::Failed;
      r.message = "cannot set up the system: " + sut.error();
    } else {
      const trace::TraceCase trace(st.options->trace_dir, sut);  // --trace-out: no-op when empty
      rc::state::runAll(commands, init, sut);
      coverage::end_case();  // the machine's teardown below is no command
      const std::vector<std::string> hidden = verify_kept_tables(sut);  // counts nothing
      if (!hidden.empty()) {
        std::string msg = "refinement broken at the end of the case (a verifying view):";
        for (const std::string& p : hidden) msg += "\n  " + p;
        RC_FAIL(msg);
      }
      // Checked commands: every API call or probe that was run and then checked, each step of
      // a composite command (the grant scenario) on its own, as a failing case counts them.
      r.commands = coverage::commands_in_case();
    }
  } catch (const rc::detail::CaseResult& c) {
    r.kind = c.type == rc::detail::CaseResult::Type::Discard   ? CaseReport::Kind::Discarded
             : c.type == rc::detail::CaseResult::Type::Success ? CaseReport::Kind::Passed
                                                               : CaseReport::Kind::Failed;
    r.message = c.description;
  } catch (const std::exception& e) {
    r.kind = CaseReport::Kind::Failed;
    r.message = std::string("uncaught exception: ") + e.what();
  }
  if (r.kind != CaseReport::Kind::Passed) r.commands = coverage::commands_in_case();
  for (const auto& [k, v] : paths.reached) r.counts["path:" + k] += v;
  for (const auto& [k, v] : paths.skipped) r.counts["skip:" + k] += v;
  // Checks the judging hardware could not perform (count_skip), carried back like the counters.
  for (const auto& [k, v] : take_skips()) r.counts["qskip:" + k] += v;
  coverage::end_case();
  return r;
}

void keep_slowest(std::vector<SlowCase>& slowest, const SlowCase& c) {
  slowest.push_back(c);
  std::sort(slowest.begin(), slowest.end(),
            [](const SlowCase& a, const SlowCase& b) { return a.seconds > b.seconds; });
  if (slowest.size() > kSlowestKept) slowest.resize(kSlowestKept);
}

// A child's counts into the run: path-reach and skip counters travel in the counts under the
// prefixes execute_case gives them.
void add_counts(RunState& st, const coverage::Counts& counts) {
  for (const auto& [k, v] : counts) {
      if (k.rfind("path:", 0) == 0)
        st.coverage.reached[k.substr(5)] += v;
      else if (k.rfind("skip:", 0) == 0)
        st.coverage.skipped[k.substr(5)] += v;
      else if (k.rfind("qskip:", 0) == 0)
        count_skip(k.substr(6), v);
      else
        st.counts[k] += v;
    }
}

void run_case(RunState& st) {
  int index = -1;
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
    index = k;
  }
  const model::State init = initial_model(*st.config);
  const auto commands = *rc::state::gen::commands(init, &gen_command);
  const auto t0 = Clock::now();
  if (st.in_child) heartbeat_case_begin();
  const CaseReport rep =
      run_case_isolated([&] { return execute_case(st, init, commands); },
                        st.options->isolate && !st.in_child, st.options->case_timeout);
  if (st.in_child) heartbeat_case_end();
  if (!st.shrinking) {  // shrink steps re-run a case: they add no evidence
    add_counts(st, rep.counts);
    st.commands += rep.commands;
    keep_slowest(
        st.slowest,
        SlowCase{index, std::chrono::duration<double>(Clock::now() - t0).count(), rep.commands});
    if (st.options->progress && index >= 0)
      st.options->progress(Progress{st.config->name, st.cases_run, st.cases_total, st.commands});
  }
  switch (rep.kind) {
    case CaseReport::Kind::Passed:
      return;
    case CaseReport::Kind::Discarded:
      RC_DISCARD(rep.message);
    default:
      if (st.in_child) abandon_config_child();  // the per-case rerun finds and shrinks it
      st.shrinking = true;
      st.last_failure = rep.message;
      // The child's message as it is (RC_FAIL would prefix this file and line).
      throw rc::detail::CaseResult(rc::detail::CaseResult::Type::Failure, rep.message);
  }
}

CoverageEvidence evaluate_coverage(const HwConfig& cfg, coverage::Counts counts) {
  CoverageEvidence c;
  for (const coverage::Requirement& r : coverage::requirements(cfg)) {
    if (!r.unreachable.empty())
      c.unreachable.emplace_back(r.key, r.unreachable);
    else if (counts.count(r.key) == 0)
      c.missing.push_back(r.key);
  }
  c.counts = std::move(counts);
  return c;
}

ConfigOutcome run_config(const KnAdapterV1& api, const HwConfig& cfg, const ConformanceOptions& opt,
                         const rc::detail::TestParams& params,
                         const std::unordered_map<std::string, rc::detail::Reproduce>& reproduce) {
  ConfigOutcome out;
  out.config = cfg.name;
  out.seed = params.seed;
  const auto t0 = Clock::now();
  const double cpu0 = cpu_seconds_so_far();
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
  const std::string id = replay_test_id(cfg.name, opt.mutant);
  const bool replaying = reproduce.count(id) != 0;
  const int cases_total = opt.shard_count > 1
                              ? (params.maxSuccess + static_cast<int>(opt.shard_count) - 1 -
                                 static_cast<int>(opt.shard_index)) /
                                    static_cast<int>(opt.shard_count)
                              : params.maxSuccess;
  rc::detail::TestMetadata meta;
  meta.id = id;
  meta.description = id;
  const auto fresh_state = [&](Clock::time_point start) {
    RunState s;
    s.api = &api;
    s.config = &cfg;
    s.options = &opt;
    s.replaying = replaying;
    s.cases_total = cases_total;
    s.start = start;
    return s;
  };
  RunState st = fresh_state(t0);
  std::optional<rc::detail::TestResult> result;
  // Optimistic isolation: the whole property in one child, cases in process there (the fork per
  // case costs about half the CPU of a superpage configuration). Used only when that child passes
  // and its report decodes; otherwise the per-case path below runs the configuration again and
  // is authoritative. The same seed generates the same cases. Replays and mutant runs (expected
  // to fail) go straight to the per-case path, and so do --trace-out runs (a fallback would write
  // the traces of the cases before the failure twice).
  if (opt.isolate && opt.optimistic && !replaying && opt.mutant.empty() &&
      opt.trace_dir.empty()) {
    std::string why_not;
    const std::optional<ConfigReport> rep = run_config_in_child(
        [&] {
          RunState cs = fresh_state(t0);
          cs.in_child = true;
          QuietListener quiet;
          const auto r = rc::detail::checkProperty(rc::detail::toProperty([&cs] { run_case(cs); }),
                                                   meta, params, quiet, reproduce);
          ConfigReport cr;
          rc::detail::SuccessResult success;
          cr.passed = r.match(success);
          cr.cases_run = cs.cases_run;
          cr.budget_exhausted = cs.budget_exhausted;
          cr.commands = cs.commands;
          cr.slowest = cs.slowest;
          cr.counts = cs.counts;
          for (const auto& [k, v] : cs.coverage.reached) cr.counts["path:" + k] += v;
          for (const auto& [k, v] : cs.coverage.skipped) cr.counts["skip:" + k] += v;
          for (const auto& [k, v] : take_skips()) cr.counts["qskip:" + k] += v;
          return cr;
        },
        opt.case_timeout, why_not);
    if (rep) {
      st.cases_run = rep->cases_run;
      st.budget_exhausted = rep->budget_exhausted;
      st.commands = rep->commands;
      st.slowest = rep->slowest;
      add_counts(st, rep->counts);
      result = rc::detail::SuccessResult{st.cases_run, {}};
      // The child's progress calls updated its own copy of the caller's state (a progress bar
      // counting configurations): tell this process too.
      if (opt.progress) opt.progress(Progress{cfg.name, st.cases_run, st.cases_total, st.commands});
    } else {
      if (opt.verbose)
        std::cerr << "[" << id << "] optimistic run not used (" << why_not
                  << "); running each case in a child\n";
      // A fresh start for the time budget: the rerun must be able to reach the failure.
      st = fresh_state(Clock::now());
    }
  }
  if (!result) {
    QuietListener listener;
    result = rc::detail::checkProperty(rc::detail::toProperty([&st] { run_case(st); }), meta,
                                       params, listener, reproduce);
  }
  out.cases_run = st.replaying ? 1 : st.cases_run;
  out.budget_exhausted = st.budget_exhausted;
  out.commands = st.commands;
  out.slowest = std::move(st.slowest);
  out.coverage = evaluate_coverage(cfg, std::move(st.counts));
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  // Counts every reaped child: the optimistic one and, after a fallback, the per-case ones.
  out.cpu_seconds = cpu_seconds_so_far() - cpu0;
  rc::detail::FailureResult failure;
  rc::detail::GaveUpResult gave_up;
  rc::detail::Error error;
  if (result->match(failure)) {
    out.status = ConfigOutcome::Status::Failed;
    out.failure = failure.description;
    // RapidCheck runs the shrunk case once more to show it; a crash or hang that does not recur
    // then (a flaky failure, a time limit hit under load) would be reported as "no exceptions
    // thrown": report the last failure seen instead, marked.
    if (failure.description.find("no exceptions thrown") != std::string::npos &&
        !st.last_failure.empty())
      out.failure = st.last_failure + "\n(flaky: the shrunk case passed when run once more)";
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
  } else if (result->match(gave_up)) {
    out.status = ConfigOutcome::Status::Error;
    out.failure = "gave up: " + gave_up.description;
  } else if (result->match(error)) {
    out.status = ConfigOutcome::Status::Error;
    out.failure = error.description;
  }
  if (opt.require_coverage && out.status == ConfigOutcome::Status::Passed &&
      !out.coverage.missing.empty() && !st.replaying) {
    out.status = ConfigOutcome::Status::Failed;
    out.failure = "coverage: never observed";
    for (const std::string& k : out.coverage.missing) out.failure += " " + k;
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
                << (opt.mutant.empty()
                        ? std::string()
                        : " kniommu_refinement_mutants mutant " + opt.mutant + " " + cfg.name)
                << "\n";
    } else if (out.status != ConfigOutcome::Status::Passed) {
      std::cerr << out.failure << "\n";
    }
  }
  return out;
}

}  // namespace

bool rc_params_valid(std::string& error) {
  const char* params = std::getenv("RC_PARAMS");
  if (params == nullptr) return true;
  try {
    (void)rc::detail::configFromString(params);
  } catch (const std::exception& e) {
    error = std::string("RC_PARAMS: ") + e.what();
    return false;
  }
  return true;
}

uint64_t effective_seed(const ConformanceOptions& options) {
  return options.seed != 0 ? options.seed : quiet_configuration().testParams.seed;
}

ConformanceResult run_conformance(const KnAdapterV1& adapter, const ConformanceOptions& options) {
  ConformanceResult result;
  // A table from before the later optional entries is read as if those were NULL.
  KnAdapterV1 api{};
  if (adapter.struct_size >= KN_ADAPTER_V1_MIN_SIZE)
    std::memcpy(&api, &adapter, std::min<size_t>(adapter.struct_size, sizeof api));
  if (!options.frame_generations) api.phys_frame_generation = nullptr;  // full reads
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
  const rc::detail::Configuration& global = quiet_configuration();
  std::unordered_map<std::string, rc::detail::Reproduce> reproduce = global.reproduce;
  if (!opt.replay_in.empty()) {
    std::string why;
    const std::optional<ReplayFile> replay = read_replay_file(opt.replay_in, why);
    if (!replay) {
      result.passed = false;
      result.outcomes.push_back(error_outcome("*", "cannot replay: " + why));
      return result;
    }
    const ReplayFile& r = *replay;
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
      result.outcomes.push_back(
          error_outcome("*", "cannot select mutant '" + opt.mutant + "': " + KnRetcodeName(rc)));
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
    if (o.status == ConfigOutcome::Status::Failed && !opt.replay_out.empty() &&
        !o.rc_params.empty()) {
      write_replay_file(opt.replay_out,
                        ReplayFile{o.config, opt.mutant, api.name != nullptr ? api.name : "",
                                   o.rc_params, o.seed},
                        o.counterexample);
      o.replay_file = opt.replay_out;
    }
    result.outcomes.push_back(std::move(o));
  }
  if (api.select_mutant != nullptr) api.select_mutant("");
  for (const ConfigOutcome& o : result.outcomes)
    if (o.status == ConfigOutcome::Status::Failed || o.status == ConfigOutcome::Status::Error)
      result.passed = false;
  return result;
}

}  // namespace kniommu::conformance
