// The conformance suite as a library: run the RapidCheck refinement check (implementation refines
// docs/semantics.md's model after every command) against any adapter (kniommu/adapter.h).
// Used by the refinement CTest entries and by the kniommu-conform CLI. docs/adapter.md and
// docs/reproducing.md describe the options and how to replay a failure.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kniommu/adapter.h"
#include "kniommu/sim.h"

namespace kniommu::conformance {

// A named hardware generation the suite runs on (docs/adapter.md lists them).
struct HwConfig {
  std::string name;
  std::string description;
  KnSimConfig sim{};              // sim.devices points into `devices`; use make_sim()
  std::vector<uint16_t> devices;  // BDFs on the bus
  KnSimConfig make_sim() const;   // `sim` with devices/device_count filled in
};

// The standard matrix: 3/4/5 levels, with and without superpages, CM on and off, IOMMU disabled.
const std::vector<HwConfig>& standard_configs();
std::optional<HwConfig> find_config(const std::string& name);
// The configurations QEMU 7.2's intel-iommu provides (docs/qemu-backend.md): l4_sp and disabled of
// the standard matrix, plus l3_sp (3-level 39-bit) and l4_sp_cm (CM=1). find_config knows them.
const std::vector<HwConfig>& qemu_configs();
// find_config for a judge: with KN_SIM_HARDWARE_QEMU the QEMU variant of a name comes first.
std::optional<HwConfig> find_config_for(const std::string& name, int hardware);

struct Progress {
  std::string config;
  int cases_done = 0;          // cases this shard has run for `config`
  int cases_total = 0;         // cases this shard will run for `config` (without a time budget)
  uint64_t commands_done = 0;  // commands executed for `config` so far
};

struct ConformanceOptions {
  // 0: take RapidCheck's configuration (RC_PARAMS seed=..., else a random seed).
  uint64_t seed = 0;
  // 0: RC_PARAMS max_success, else the default (KNIOMMU_DEEP=1 multiplies it).
  int cases = 0;
  // Longest command sequence (RapidCheck max_size). 0: RC_PARAMS max_size, else the default.
  int max_length = 0;
  // Names from standard_configs(); empty = all of them.
  std::vector<std::string> configs;
  // Case k of a configuration runs only on shard k % shard_count == shard_index.
  unsigned shard_index = 0;
  unsigned shard_count = 1;
  // Stop starting new cases after this much wall time per run (0 = no limit). Cases already
  // running complete; the outcome records that the budget ended the run.
  std::chrono::milliseconds time_budget{0};
  std::function<void(const Progress&)> progress;
  // Written on failure: config, mutant, seed and the RC_PARAMS reproduce string
  // (docs/reproducing.md).
  std::string replay_out;
  // Read instead of generating: replays exactly the recorded failing case (configs/seed ignored).
  std::string replay_in;
  // Mutant to activate through the adapter's select_mutant ("" = none).
  std::string mutant;
  bool shrink = true;
  // Print RapidCheck's own report to stderr (the CTest entries do; a quiet CLI may not).
  bool verbose = true;
  // Run every case (and every shrink step) in a child process, so a crash, abort or hang of the
  // implementation fails that case instead of killing the runner (docs/reproducing.md).
  bool isolate = true;
  // With `isolate`: first run all cases of a configuration in one child (cases in process, each
  // under `case_timeout`), falling back to a child per case if that child fails in any way
  // (docs/reproducing.md); false: a child per case from the start (`--isolate=case`).
  bool optimistic = true;
  // A child case running longer than this is killed (SIGKILL by PID) and fails the case.
  std::chrono::milliseconds case_timeout{60000};
  // The judge: KN_SIM_HARDWARE_EMULATOR or KN_SIM_HARDWARE_QEMU (KnSimConfig.hardware of every
  // machine). With QEMU and no `configs`, qemu_configs() run.
  int hardware = KN_SIM_HARDWARE_EMULATOR;
  // Fail a run that never reached a path its configuration has (coverage.h). Unset: only runs at
  // the default budget or larger (cases = 0) without mutant, shard, time limit or replay.
  std::optional<bool> require_paths;
  // Non-empty: every executed case (shrink steps included) is written there as a trace for
  // spec/KnIommuTrace.tla (refinement_tests/src/trace_writer.h, spec/README.md).
  std::string trace_dir;
  // A configuration that never observed a documented Retcode or path (coverage_requirements.h)
  // fails.
  bool require_coverage = false;
  // Use the adapter's frame write generations (phys_frame_generation, docs/adapter.md) to skip
  // re-reading unchanged tables; false: every view reads every table in full.
  bool frame_generations = true;
};

// A case that took long, for the "slowest cases" list.
struct SlowCase {
  int index = 0;  // case number within the configuration (0-based, before sharding)
  double seconds = 0;
  uint64_t commands = 0;
};

// Coverage of one configuration: counters (keys in docs/reproducing.md "Coverage"), what was
// required and never observed, and what is unreachable on this configuration by design.
struct CoverageEvidence {
  std::map<std::string, uint64_t> counts;
  std::vector<std::string> missing;
  std::vector<std::pair<std::string, std::string>> unreachable;  // key, reason
};

struct ConfigOutcome {
  enum class Status { Passed, Failed, Unsupported, Error };
  std::string config;
  Status status = Status::Passed;
  int cases_run = 0;
  bool budget_exhausted = false;
  std::string failure;         // the failing assertion / discrepancy
  std::string counterexample;  // the shrunk command list, one command per line
  int counterexample_length = 0;
  std::string rc_params;  // RC_PARAMS value that reproduces this failure ("reproduce=...")
  uint64_t seed = 0;
  double seconds = 0;
  // CPU time (user + system) of this process and its case children for this configuration,
  // so throughput per core can be stated on a loaded machine (docs/performance.md).
  double cpu_seconds = 0;
  // Checked commands executed (shrink steps excluded): every API call or DMA probe that was run
  // and then followed by the full check, each step of a composite command counted on its own.
  uint64_t commands = 0;
  std::string replay_file;  // where the failing case was recorded ("" = not recorded)
  CoverageEvidence coverage;
  std::vector<SlowCase> slowest;  // at most kSlowestKept, slowest first
  // Checks the judging hardware could not perform, by what was skipped (docs/qemu-backend.md).
  // Path-reach counters of this run (coverage.h names) and checks skipped because the adapter
  // lacks an optional entry (times skipped). A run that ends without a failure but never reached
  // a path the configuration requires is Failed with `failure` naming the paths.
  std::map<std::string, uint64_t> reached;
  std::map<std::string, uint64_t> skipped;
};
inline constexpr size_t kSlowestKept = 5;

struct ConformanceResult {
  bool passed = true;
  std::vector<ConfigOutcome> outcomes;
};

// "passed", "FAILED", "unsupported", "ERROR" (inline: the merge reader uses it without the suite).
inline const char* status_name(ConfigOutcome::Status s) {
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

// A replay file (--replay-out / --replay, docs/reproducing.md): what case it records, for whom.
struct ReplayFile {
  std::string config, mutant, adapter, rc_params;
  uint64_t seed = 0;
};
// Reads and validates one (a regular, non-empty, small file; known keys; a configuration of
// standard_configs(); a RC_PARAMS reproduce string recorded for that configuration and mutant).
// nullopt with `error` set otherwise.
std::optional<ReplayFile> read_replay_file(const std::string& path, std::string& error);

// RC_PARAMS as RapidCheck would parse it; false with `error` when it would refuse it (RapidCheck
// itself would exit(1) at first use).
bool rc_params_valid(std::string& error);
// The seed a run with `options` uses: options.seed, else RC_PARAMS seed, else RapidCheck's random
// seed. Reading RapidCheck's configuration this way prints nothing (its own "Using
// configuration" line is suppressed: the tools print the seed once themselves).
uint64_t effective_seed(const ConformanceOptions& options);

// Refuses (Status::Error outcome) adapters whose abi_version/struct_size it does not understand.
ConformanceResult run_conformance(const KnAdapterV1& adapter, const ConformanceOptions& options);

// Mutation adequacy: every mutant the adapter knows (kniommu's kMutants for the built-in adapter)
// must make run_conformance fail on some configuration within the budget of `options`.
struct MutantOutcome {
  std::string mutant;
  bool caught = false;
  std::string config;           // where it was caught
  int commands_to_failure = 0;  // length of the shrunk counterexample
  int cases_to_failure = 0;     // cases run on `config` up to and including the failing one
  std::string failure;
  double seconds = 0;
};
std::vector<MutantOutcome> run_mutation_adequacy(const KnAdapterV1& adapter,
                                                 const std::vector<std::string>& mutants,
                                                 const ConformanceOptions& options);

// Linearizability of concurrent API calls: `histories` random histories of 2-3 threads x 2-4
// calls on a shared system; each must be explained by a sequential order of model steps that
// respects real time. Returns an empty string on success, else the offending history.
struct LinearizabilityOptions {
  uint64_t seed = 1;
  int histories = 200;
  std::string config = "l4_sp";
};
std::string check_linearizability(const KnAdapterV1& adapter, const LinearizabilityOptions& opts);

}  // namespace kniommu::conformance
