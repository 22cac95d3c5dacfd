// The one-screen summary that ends the main job.
#include <cstdio>

#include "parts.h"

namespace kniommu::main_job {

const char* status_name(PartResult::Status status) {
  switch (status) {
    case PartResult::Status::kPass:
      return "PASS";
    case PartResult::Status::kFail:
      return "FAIL";
    case PartResult::Status::kMissing:
      return "MISSING";
    case PartResult::Status::kSkipped:
      return "SKIPPED";
  }
  return "?";
}

void print_summary(const std::vector<PartResult>& parts, double total_seconds) {
  bool all_pass = true;
  std::printf(
      "\n================================ kniommu main job ================================\n");
  std::printf("%-14s %-8s %9s  %s\n", "part", "result", "time", "details");
  for (const auto& p : parts) {
    std::printf("%-14s %-8s %8.1fs  %s\n", p.name.c_str(), status_name(p.status), p.seconds,
                p.details.c_str());
    all_pass = all_pass &&
               (p.status == PartResult::Status::kPass || p.status == PartResult::Status::kSkipped);
  }
  std::printf("\noutputs:\n");
  for (const auto& p : parts) {
    for (const auto& [what, where] : p.outputs)
      std::printf("  %-20s %s\n", what.c_str(), where.c_str());
  }
  bool any_note = false;
  for (const auto& p : parts) {
    for (const auto& n : p.notes) {
      if (!any_note) std::printf("\nnotes:\n");
      any_note = true;
      std::printf("  %s\n", n.c_str());
    }
  }
  std::printf("\noverall: %s in %.1fs\n", all_pass ? "PASS" : "FAIL", total_seconds);
}

}  // namespace kniommu::main_job
