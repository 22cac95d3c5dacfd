// Conformance part: the refinement suite on every standard hardware configuration against the
// built-in implementation, with the progress bar of kniommu-conform and a JUnit report.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "parts.h"

#ifdef KNIOMMU_HAVE_CONFORMANCE
#include "coverage_table.h"
#include "junit.h"
#include "kniommu/builtin_adapter.h"
#include "progress_bar.h"
#include "render_file.h"
#include "report.h"
#endif

namespace kniommu::main_job {

PartResult run_conformance_part(const JobOptions& options) {
  PartResult part;
  part.name = "conformance";
#ifndef KNIOMMU_HAVE_CONFORMANCE
  (void)options;
  part.details = "kniommu_conformance was not built";
  return part;
#else
  conformance::ConformanceOptions run;
  run.seed = options.seed;
  run.cases = options.cases;
  run.time_budget = std::chrono::milliseconds(static_cast<long long>(options.time_budget * 1000));
  run.verbose = false;
  run.replay_out = options.out_dir + "/conformance-replay.txt";
  // The main job's claim covers every documented Retcode and path (docs/reproducing.md
  // "Coverage"): a configuration that never observed one fails, unless the requirements list it as
  // unreachable by design there (with the reason, printed below the table). A run narrowed below
  // the default budget (--cases, --time-budget) is no claim of full coverage.
  run.require_coverage = options.cases >= JobOptions{}.cases && options.time_budget <= 0;
  run.seed = conformance::effective_seed(run);  // printed once, below
  conform::ProgressBar bar(stdout, conform::ProgressBar::stream_is_tty(stdout),
                           conformance::standard_configs().size());
  run.progress = [&bar](const conformance::Progress& p) { bar.update(p); };
  std::printf(
      "== conformance: refinement suite, built-in implementation, all hardware configurations, "
      "seed %llu\n",
      static_cast<unsigned long long>(run.seed));
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  const auto result = conformance::run_conformance(*kniommu_builtin_adapter(), run);
  part.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bar.clear();
  conform::print_result(stdout, result, run, "build/release/tools/kniommu-conform");
  // The evidence: every documented Retcode and path per configuration, or why it cannot occur.
  conform::print_coverage(stdout, result.outcomes);

  const auto t = conform::totals(result);
  part.status =
      result.passed && t.configs > 0 ? PartResult::Status::kPass : PartResult::Status::kFail;
  part.details = std::to_string(t.configs) + " configs: " + std::to_string(t.passed) + " passed, " +
                 std::to_string(t.failed) + " failed, " + std::to_string(t.unsupported) +
                 " unsupported; " + std::to_string(t.cases) + " cases, " +
                 std::to_string(t.commands) + " commands";
  size_t missing = 0;
  for (const auto& o : result.outcomes) missing += o.coverage.missing.size();
  part.details += missing == 0
                      ? ", full coverage"
                      : ", " + std::to_string(missing) + " documented paths never observed";
  if (!run.require_coverage) part.details += " (coverage not required: budget narrowed)";
  if (!result.outcomes.empty())
    part.details += ", seed " + std::to_string(result.outcomes.front().seed);
  const std::string junit = options.out_dir + "/conformance.xml";
  if (conform::write_file(junit, conform::junit_xml(result, "kniommu-conform"))) {
    part.outputs.push_back({"conformance JUnit", junit});
  }
  if (!result.passed) {
    part.outputs.push_back({"failing case replay", run.replay_out});
    part.notes.push_back(
        "conformance: replay the failing case with build/release/tools/kniommu-conform --replay " +
        run.replay_out);
  }
  // The same suite with QEMU's intel-iommu as the judge, when QEMU is installed
  // (docs/qemu-backend.md): every configuration QEMU provides, at most 20 cases each.
  if (std::system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0) {
    conformance::ConformanceOptions q = run;
    q.hardware = KN_SIM_HARDWARE_QEMU;
    q.cases = std::min(run.cases > 0 ? run.cases : 20, 20);
    q.require_coverage = false;  // 20 cases: a second judge of the same suite, no coverage claim
    q.replay_out = options.out_dir + "/conformance-qemu-replay.txt";
    q.progress = nullptr;
    std::printf("== conformance with QEMU's intel-iommu as the judge\n");
    std::fflush(stdout);
    const auto qstart = std::chrono::steady_clock::now();
    const auto qr = conformance::run_conformance(*kniommu_builtin_adapter(), q);
    part.seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - qstart).count();
    conform::print_result(stdout, qr, q, "build/release/tools/kniommu-conform --hardware qemu");
    const auto qt = conform::totals(qr);
    part.details += "; on QEMU " + std::to_string(qt.passed) + "/" + std::to_string(qt.configs) +
                    " configs passed, " + std::to_string(qt.cases) + " cases";
    if (!qr.passed) {
      part.status = PartResult::Status::kFail;
      part.outputs.push_back({"failing QEMU case replay", q.replay_out});
    }
  } else {
    part.details += "; QEMU part skipped (qemu-system-x86_64 not installed)";
  }
  return part;
#endif
}

}  // namespace kniommu::main_job
