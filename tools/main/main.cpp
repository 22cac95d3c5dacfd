// kniommu-main: the README's main job (scripts/main). Runs the conformance suite on the default
// hardware configurations, the Z3 proofs and an audit of a demo system, then prints a summary.
// Exit status 0 only when every part ran and passed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>

#include "parts.h"

namespace {

constexpr const char* kUsage =
    "usage: kniommu-main [--only conformance,proofs,audit,linux] [--seed N] [--cases N]\n"
    "                    [--time-budget SECONDS] [--out DIR]\n"
    "Runs the conformance suite (default 2000 cases per configuration), the proofs and the demo "
    "audit\n"
    "of this build tree, and (with QEMU) the audit of a Linux VM's own tables, and summarizes "
    "them.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace kniommu::main_job;
  JobOptions options;
  options.binary_dir = KNIOMMU_BINARY_DIR;
  std::set<std::string> only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--only" && has_value) {
      std::istringstream parts(argv[++i]);
      for (std::string p; std::getline(parts, p, ',');) {
        if (p != "conformance" && p != "proofs" && p != "audit" && p != "linux") {
          std::fprintf(stderr, "kniommu-main: unknown part '%s'\n%s", p.c_str(), kUsage);
          return 2;
        }
        only.insert(p);
      }
    } else if (a == "--seed" && has_value) {
      options.seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--cases" && has_value) {
      options.cases = std::atoi(argv[++i]);
      if (options.cases <= 0) {
        std::fprintf(stderr, "kniommu-main: --cases needs a positive number\n");
        return 2;
      }
    } else if (a == "--time-budget" && has_value) {
      options.time_budget = std::atof(argv[++i]);
    } else if (a == "--out" && has_value) {
      options.out_dir = argv[++i];
    } else {
      std::fputs(kUsage, a == "-h" || a == "--help" ? stdout : stderr);
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  if (options.out_dir.empty()) options.out_dir = options.binary_dir;
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);

  const auto wanted = [&](const char* part) { return only.empty() || only.contains(part); };
  const auto start = std::chrono::steady_clock::now();
  std::vector<PartResult> results;
  if (wanted("conformance")) results.push_back(run_conformance_part(options));
  if (wanted("proofs")) results.push_back(run_proofs_part(options));
  if (wanted("audit")) results.push_back(run_audit_part(options));
  if (wanted("linux")) results.push_back(run_linux_part(options));
  print_summary(results,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  for (const auto& r : results) {
    if (r.status != PartResult::Status::kPass && r.status != PartResult::Status::kSkipped) return 1;
  }
  return 0;
}
