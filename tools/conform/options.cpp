#include "options.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace kniommu::conform {

const char* const kUsage =
    "usage: kniommu-conform [options]\n"
    "Runs the kniommu refinement suite (the implementation refines the model of "
    "docs/semantics.md)\n"
    "against the built-in implementation or an adapter library (docs/adapter.md).\n"
    "  --adapter LIB.so       test this adapter instead of the built-in implementation\n"
    "  --seed N               RapidCheck seed (default: RC_PARAMS seed, else random)\n"
    "  --cases N              test cases per configuration\n"
    "  --max-length N         longest command sequence\n"
    "  --config A,B,...       hardware configurations (default: all; --list-configs shows them)\n"
    "  --shard I/N            run only shard I of N (0 <= I < N), for spreading a run over "
    "machines;\n"
    "                         every shard needs the same --seed (and --cases)\n"
    "  --time-budget SECONDS  stop starting new cases after this long\n"
    "  --junit FILE           write JUnit XML (coverage as <properties>)\n"
    "  --coverage-out FILE    write the run as JSON: outcomes, coverage, slowest cases\n"
    "  --require-coverage     fail a configuration that never observed a documented Retcode or\n"
    "                         path (docs/reproducing.md \"Coverage\")\n"
    "  --case-timeout SECONDS kill and fail a case running longer (default 60)\n"
    "  --isolate=case         run every case in its own child process from the start\n"
    "                         (default: each configuration first runs all its cases in one\n"
    "                         child, and only if that child fails, crashes, hangs or reports\n"
    "                         nothing is the configuration run again with a child per case)\n"
    "  --no-isolate           run cases in this process, not in a child (faster, but a\n"
    "                         crash of the implementation ends the run)\n"
    "  --replay-out FILE      record a failing case there\n"
    "  --replay FILE          replay a recorded failing case\n"
    "  --trace-out DIR        write every executed case as a trace for spec/KnIommuTrace.tla\n"
    "  --mutant NAME          activate a deliberately injected bug (adapters with select_mutant)\n"
    "  --no-shrink            report the first counterexample without shrinking it\n"
    "  --no-frame-generations read every hardware table after every command instead of\n"
    "                         skipping those whose write generation is unchanged (auditing;\n"
    "                         docs/adapter.md \"Frame write generations\")\n"
    "  --progress | --no-progress   force the progress bar on/off (default: only on a terminal)\n"
    "  --verbose              print RapidCheck's own report\n"
    "  --list-configs         list the hardware configurations and exit\n"
    "  --hardware emulator|qemu  the judge: the emulated unit (default) or QEMU's intel-iommu\n"
    "                         (docs/qemu-backend.md; default configurations then: QEMU's)\n"
    "usage: kniommu-conform merge FILE...\n"
    "  the union of shards' --coverage-out JSON and/or --junit XML files: cases, failures with\n"
    "  their replay files, coverage, slowest cases (docs/sharding.md)\n"
    "exit status: 0 conforming, 1 a configuration failed, 2 usage, input or adapter error\n";

namespace {

bool to_u64(const std::string& s, std::uint64_t& out) {
  if (s.empty() || s[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  out = v;
  return true;
}

bool to_int(const std::string& s, int& out) {
  std::uint64_t v = 0;
  if (!to_u64(s, v) || v > 1000000000ull) return false;
  out = static_cast<int>(v);
  return true;
}

// Seconds as a positive number up to `max`, in milliseconds.
bool to_millis(const std::string& s, double max, std::chrono::milliseconds& out) {
  char* end = nullptr;
  const double seconds = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(seconds > 0) || seconds > max) return false;
  out = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
  return true;
}

}  // namespace

std::optional<CliOptions> parse_options(int argc, char** argv, std::string& error) {
  CliOptions o;
  o.run.verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    std::string v;
    const auto value = [&]() {
      if (i + 1 >= argc) {
        error = a + " needs a value";
        return false;
      }
      v = argv[++i];
      return true;
    };
    const auto bad = [&](const char* what) {
      error = "bad value for " + a + ": '" + v + "' (" + what + ")";
      return std::nullopt;
    };
    if (a == "--adapter") {
      if (!value()) return std::nullopt;
      o.adapter = v;
    } else if (a == "--seed") {
      if (!value()) return std::nullopt;
      if (!to_u64(v, o.run.seed) || o.run.seed == 0) return bad("a positive integer");
    } else if (a == "--cases") {
      if (!value()) return std::nullopt;
      if (!to_int(v, o.run.cases) || o.run.cases == 0) return bad("a positive integer");
    } else if (a == "--max-length") {
      if (!value()) return std::nullopt;
      if (!to_int(v, o.run.max_length) || o.run.max_length == 0) return bad("a positive integer");
    } else if (a == "--config") {
      if (!value()) return std::nullopt;
      std::istringstream names(v);
      for (std::string name; std::getline(names, name, ',');) {
        if (!conformance::find_config(name))
          return bad("unknown configuration; see --list-configs");
        o.run.configs.push_back(name);
      }
    } else if (a == "--shard") {
      if (!value()) return std::nullopt;
      const auto slash = v.find('/');
      int index = 0, count = 0;
      if (slash == std::string::npos || !to_int(v.substr(0, slash), index) ||
          !to_int(v.substr(slash + 1), count) || count == 0 || index >= count) {
        return bad("I/N with 0 <= I < N");
      }
      o.run.shard_index = static_cast<unsigned>(index);
      o.run.shard_count = static_cast<unsigned>(count);
    } else if (a == "--time-budget") {
      if (!value()) return std::nullopt;
      if (!to_millis(v, 1e7, o.run.time_budget)) return bad("a positive number of seconds");
    } else if (a == "--junit") {
      if (!value()) return std::nullopt;
      o.junit = v;
    } else if (a == "--coverage-out") {
      if (!value()) return std::nullopt;
      o.coverage_out = v;
    } else if (a == "--require-coverage") {
      o.run.require_coverage = true;
    } else if (a == "--case-timeout") {
      if (!value()) return std::nullopt;
      if (!to_millis(v, 1e6, o.run.case_timeout)) return bad("a positive number of seconds");
    } else if (a == "--no-isolate") {
      o.run.isolate = false;
    } else if (a == "--isolate=case") {
      o.run.isolate = true;
      o.run.optimistic = false;
    } else if (a == "--replay-out") {
      if (!value()) return std::nullopt;
      o.run.replay_out = v;
    } else if (a == "--trace-out") {
      if (!value()) return std::nullopt;
      o.run.trace_dir = v;
    } else if (a == "--replay") {
      if (!value()) return std::nullopt;
      o.run.replay_in = v;
    } else if (a == "--mutant") {
      if (!value()) return std::nullopt;
      o.run.mutant = v;
    } else if (a == "--no-shrink") {
      o.run.shrink = false;
    } else if (a == "--no-frame-generations") {
      o.run.frame_generations = false;
    } else if (a == "--progress") {
      o.progress = ProgressMode::kOn;
    } else if (a == "--no-progress") {
      o.progress = ProgressMode::kOff;
    } else if (a == "--verbose") {
      o.run.verbose = true;
    } else if (a == "--hardware") {
      if (!value()) return std::nullopt;
      if (v == "qemu")
        o.run.hardware = KN_SIM_HARDWARE_QEMU;
      else if (v == "emulator")
        o.run.hardware = KN_SIM_HARDWARE_EMULATOR;
      else
        return bad("emulator or qemu");
    } else if (a == "--list-configs") {
      o.list_configs = true;
    } else {
      error = "unknown argument '" + a + "'";
      return std::nullopt;
    }
  }
  // Shards partition one run only if they all generate the same cases.
  if (o.run.shard_count > 1 && o.run.seed == 0 && o.run.replay_in.empty()) {
    error = "--shard needs --seed, so that every shard runs the same sequence of cases";
    return std::nullopt;
  }
  return o;
}

}  // namespace kniommu::conform
