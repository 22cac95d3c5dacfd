// kniommu-conform: the refinement suite as a tool. Tests the built-in implementation, or any
// implementation packaged as an adapter library (docs/adapter.md), over the hardware matrix.
#include <cstdio>
#include <memory>
#include <string>

#include "adapter_loader.h"
#include "common/input_file.h"
#include "coverage_table.h"
#include "junit.h"
#include "kniommu/builtin_adapter.h"
#include "merge.h"
#include "options.h"
#include "progress_bar.h"
#include "render_file.h"
#include "report.h"
#include "run_json.h"

namespace {

// A replay file names its configuration, seed, mutant and adapter; a command line that says
// otherwise is a usage error, not a conformance result.
bool check_replay(kniommu::conform::CliOptions& o, const char* adapter_name, std::string& error) {
  const auto r = kniommu::conformance::read_replay_file(o.run.replay_in, error);
  if (!r) return false;
  const uint64_t given_seed = o.run.seed;
  o.run.seed = r->seed;  // the seed printed is the recorded one
  const std::string& file = o.run.replay_in;
  if (!o.run.configs.empty() && (o.run.configs.size() != 1 || o.run.configs[0] != r->config)) {
    error = file + ": recorded for configuration " + r->config + ", not for --config " +
            o.run.configs[0];
  } else if (given_seed != 0 && given_seed != r->seed) {
    error = file + ": recorded with seed " + std::to_string(r->seed) + ", not --seed " +
            std::to_string(given_seed);
  } else if (!o.run.mutant.empty() && o.run.mutant != r->mutant) {
    error = file + ": recorded with mutant '" + r->mutant + "', not --mutant " + o.run.mutant;
  } else if (!r->adapter.empty() && adapter_name != nullptr && r->adapter != adapter_name) {
    error =
        file + ": recorded with adapter '" + r->adapter + "', this run uses '" + adapter_name + "'";
  } else {
    return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kniommu;
  if (argc >= 2 && std::string(argv[1]) == "merge") return conform::merge_main(argc - 2, argv + 2);
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "-h" || std::string(argv[i]) == "--help") {
      std::fputs(conform::kUsage, stdout);
      return 0;
    }
  }
  std::string error;
  auto options = conform::parse_options(argc, argv, error);
  if (!options) {
    std::fprintf(stderr, "kniommu-conform: %s\n\n%s", error.c_str(), conform::kUsage);
    return 2;
  }
  for (const std::string* out :
       {&options->junit, &options->coverage_out, &options->run.replay_out}) {
    if (!out->empty() && !is_writable_output(*out, error)) {  // refused before the run, not after
      std::fprintf(stderr, "kniommu-conform: %s\n", error.c_str());
      return 2;
    }
  }
  if (!conformance::rc_params_valid(error)) {
    std::fprintf(stderr, "kniommu-conform: %s\n", error.c_str());
    return 2;
  }
  if (options->list_configs) {
    for (const auto& c : options->run.hardware == KN_SIM_HARDWARE_QEMU
                             ? conformance::qemu_configs()
                             : conformance::standard_configs()) {
      std::printf("%-12s %s\n", c.name.c_str(), c.description.c_str());
    }
    return 0;
  }

  std::unique_ptr<conform::LoadedAdapter> loaded;
  const KnAdapterV1* adapter = kniommu_builtin_adapter();
  if (!options->adapter.empty()) {
    loaded = conform::LoadedAdapter::open(options->adapter, error);
    if (!loaded) {
      std::fprintf(stderr, "kniommu-conform: %s\n", error.c_str());
      return 2;
    }
    adapter = &loaded->table();
  }
  if (!options->run.replay_in.empty() && !check_replay(*options, adapter->name, error)) {
    std::fprintf(stderr, "kniommu-conform: cannot replay: %s\n", error.c_str());
    return 2;
  }
  // One seed for the whole run, chosen here and printed once.
  options->run.seed = conformance::effective_seed(options->run);

  const bool tty = conform::ProgressBar::stream_is_tty(stdout);
  const bool draw = options->progress == conform::ProgressMode::kOn ||
                    (options->progress == conform::ProgressMode::kAuto && tty);
  const std::size_t config_count =
      options->run.configs.empty()
          ? (options->run.hardware == KN_SIM_HARDWARE_QEMU ? conformance::qemu_configs().size()
                                                           : conformance::standard_configs().size())
          : options->run.configs.size();
  conform::ProgressBar bar(stdout, draw, config_count);
  options->run.progress = [&bar](const conformance::Progress& p) { bar.update(p); };

  std::printf("kniommu-conform: adapter %s, seed %llu, shard %u/%u%s\n",
              adapter->name != nullptr ? adapter->name : "?",
              static_cast<unsigned long long>(options->run.seed), options->run.shard_index,
              options->run.shard_count,
              !options->run.isolate       ? ""
              : !options->run.optimistic ? ", each case in a child process"
                                          : ", isolated (one child per configuration; each case "
                                            "in a child if that one fails)");
  std::fflush(stdout);
  const auto result = conformance::run_conformance(*adapter, options->run);
  bar.clear();
  conform::print_result(stdout, result, options->run,
                        options->adapter.empty() ? "kniommu-conform"
                                                 : "kniommu-conform --adapter " + options->adapter);
  conform::print_coverage(stdout, result.outcomes);

  const std::string shard =
      std::to_string(options->run.shard_index) + "/" + std::to_string(options->run.shard_count);
  if (!options->junit.empty() &&
      !conform::write_file(options->junit, conform::junit_xml(result, "kniommu-conform", shard))) {
    std::fprintf(stderr, "kniommu-conform: cannot write %s\n", options->junit.c_str());
    return 2;
  }
  const conform::RunInfo info{adapter->name != nullptr ? adapter->name : "", options->run.seed,
                              options->run.shard_index, options->run.shard_count};
  if (!options->coverage_out.empty() &&
      !conform::write_file(options->coverage_out, conform::run_json(result, info))) {
    std::fprintf(stderr, "kniommu-conform: cannot write %s\n", options->coverage_out.c_str());
    return 2;
  }
  const conform::Totals t = conform::totals(result);
  if (t.failed > 0) return 1;
  return t.errors > 0 ? 2 : 0;  // an adapter or usage error is no conformance verdict
}
