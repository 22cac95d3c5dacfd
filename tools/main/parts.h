// The three parts of the main job (README: `scripts/main`) and their results for the summary.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kniommu::main_job {

struct PartResult {
  enum class Status { kPass, kFail, kMissing, kSkipped };  // kSkipped: its tools are absent
  std::string name;
  Status status = Status::kMissing;
  std::string details;  // counts, one line
  double seconds = 0;
  std::vector<std::pair<std::string, std::string>> outputs;  // what → where
  std::vector<std::string> notes;                            // printed under the table (failures)
};

const char* status_name(PartResult::Status status);

struct JobOptions {
  std::string binary_dir;  // the build tree (ctest runs there)
  std::string out_dir;     // where outputs go (default: binary_dir)
  std::uint64_t seed = 0;  // conformance seed (0 = random)
  // Conformance cases per configuration: far more than the suite's quick default (40): the
  // main job is the one thorough run a user starts by hand.
  int cases = 2000;
  double time_budget = 0;  // conformance seconds per configuration (0 = none)
};

PartResult run_conformance_part(const JobOptions& options);
PartResult run_proofs_part(const JobOptions& options);
PartResult run_audit_part(const JobOptions& options);
PartResult run_linux_part(const JobOptions& options);  // the Linux VM audit, when QEMU is there

void print_summary(const std::vector<PartResult>& parts, double total_seconds);

}  // namespace kniommu::main_job
