// Audit part: builds the demo system, writes its snapshot, reads it back from the file like any
// user would, audits it and writes text, JSON, DOT and SVG next to it.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "analysis/analysis.h"
#include "demo.h"
#include "parts.h"
#include "render/outputs.h"
#include "snapshot/reader.h"
#include "snapshot/writer.h"

namespace kniommu::main_job {

PartResult run_audit_part(const JobOptions& options) {
  PartResult part;
  part.name = "audit (demo)";
  part.status = PartResult::Status::kFail;
  std::printf("== audit: demo system -> snapshot -> kniommu-audit\n");
  const auto start = std::chrono::steady_clock::now();
  const std::string dir = options.out_dir + "/demo";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);

  demo::Demo d;
  std::string error;
  if (demo::build_demo(d, error) != rcOk) {
    part.details = "demo failed: " + error;
    return part;
  }
  const std::string snap = dir + "/system.snap";
  if (!snapshot::write_snapshot_file(d.snapshot, snap)) {
    part.details = "cannot write " + snap;
    return part;
  }
  part.outputs.push_back({"demo snapshot", snap});
  const auto read = snapshot::read_snapshot_file(snap);
  if (!read.snapshot) {
    part.details = "snapshot does not read back: " + read.error.to_string();
    return part;
  }
  const auto report = audit::analyze(*read.snapshot);
  const auto written = audit::write_all(report, dir, "audit");
  for (const auto& f : written.files) part.outputs.push_back({"demo audit", f});
  if (!written.svg_note.empty()) part.notes.push_back("audit: " + written.svg_note);
  part.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  part.details = std::to_string(report.processes.size()) + " processes, " +
                 std::to_string(report.devices.size()) + " devices, " +
                 std::to_string(report.domains.size()) + " domains, " +
                 std::to_string(report.buffers.size()) + " buffers; " +
                 std::to_string(report.violations.size()) + " violations";
  std::printf("  %s\n  %s\n", d.description.c_str(), part.details.c_str());
  part.status = report.violations.empty() && written.ok ? PartResult::Status::kPass
                                                        : PartResult::Status::kFail;
  for (const auto& v : report.violations) part.notes.push_back("audit: " + v.message);
  return part;
}

}  // namespace kniommu::main_job
