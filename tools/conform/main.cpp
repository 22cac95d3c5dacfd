// kniommu-conform: the refinement suite as a tool. Tests the built-in implementation, or any
// implementation packaged as an adapter library (docs/adapter.md), over the hardware matrix.
#include <cstdio>
#include <memory>
#include <string>

#include "adapter_loader.h"
#include "junit.h"
#include "kniommu/builtin_adapter.h"
#include "options.h"
#include "progress_bar.h"
#include "render_file.h"
#include "report.h"

int main(int argc, char** argv) {
  using namespace kniommu;
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

  std::printf("kniommu-conform: adapter %s, shard %u/%u\n",
              adapter->name != nullptr ? adapter->name : "?", options->run.shard_index,
              options->run.shard_count);
  std::fflush(stdout);
  const auto result = conformance::run_conformance(*adapter, options->run);
  bar.clear();
  conform::print_result(stdout, result, options->run,
                        options->adapter.empty() ? "kniommu-conform"
                                                 : "kniommu-conform --adapter " + options->adapter);

  if (!options->junit.empty() &&
      !conform::write_file(options->junit, conform::junit_xml(result, "kniommu-conform"))) {
    std::fprintf(stderr, "kniommu-conform: cannot write %s\n", options->junit.c_str());
    return 2;
  }
  return result.passed ? 0 : 1;
}
