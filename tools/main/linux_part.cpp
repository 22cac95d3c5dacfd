// Real-system part: when QEMU is installed, boots the Linux guest of the `linux` CTest
// (tools/audit/linux/run_vm.sh: Debian's kernel programs QEMU's VT-d with its own intel-iommu
// driver), captures it over QMP with kniommu-audit and writes the audit of that system (text,
// JSON, DOT, SVG) beside the demo's. Linux's findings are its output, not a failure; the part
// fails only when the capture or the audit cannot be done, and is SKIPPED without QEMU or the
// guest packages (scripts/bootstrap fetches them).
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "analysis/analysis.h"
#include "parts.h"
#include "render/outputs.h"
#include "render/shell.h"
#include "snapshot/reader.h"

namespace kniommu::main_job {

using audit::shell_quote;

PartResult run_linux_part(const JobOptions& options) {
  PartResult part;
  part.name = "audit (VM)";
  part.status = PartResult::Status::kFail;
  std::printf("== audit: a Linux guest's own VT-d tables (QEMU, captured over QMP)\n");
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  const std::string dir = options.out_dir + "/linux";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string snap = dir + "/system.snap";
  const std::string log = dir + "/capture.log";
  std::filesystem::remove(snap, ec);
  const std::string audit_tool = options.binary_dir + "/tools/kniommu-audit";
  // run_vm.sh kills QEMU by its PID on every path and removes its work directory.
  const std::string inner = "exec " + shell_quote(audit_tool) +
                            " --qmp \"$KNIOMMU_QMP\" --capture " + shell_quote(snap) +
                            " >/dev/null";
  const std::string command =
      shell_quote(std::string(KNIOMMU_SOURCE_DIR) + "/tools/audit/linux/run_vm.sh") + " " +
      shell_quote(dir + "/vm") + " 39 sh -c " + shell_quote(inner) + " >" + shell_quote(log) +
      " 2>&1";
  const int status = std::system(command.c_str());
  part.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::ifstream in(log);
  std::string first_line;
  std::getline(in, first_line);
  part.outputs.push_back({"VM capture log", log});
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
    part.status = PartResult::Status::kSkipped;
    part.details = first_line;
    std::printf("  %s\n", first_line.c_str());
    return part;
  }
  const auto read = snapshot::read_snapshot_file(snap);
  if (!read.snapshot) {
    part.details = "no snapshot from the VM (see " + log + ")";
    return part;
  }
  part.outputs.push_back({"VM snapshot", snap});
  const auto report = audit::analyze(*read.snapshot);
  const auto written = audit::write_all(report, dir, "audit");
  for (const auto& f : written.files) part.outputs.push_back({"VM audit", f});
  if (!written.svg_note.empty()) part.notes.push_back("VM audit: " + written.svg_note);
  std::size_t pages = 0;
  for (const auto& d : report.devices) pages += audit::page_count(d.reach);
  part.details = std::to_string(report.devices.size()) + " devices, " +
                 std::to_string(report.sl_table_pages + report.structure_pages) + " table pages, " +
                 std::to_string(pages) + " reachable pages; " +
                 std::to_string(report.findings.size()) + " findings, " +
                 std::to_string(report.violations.size()) + " violations";
  std::printf("  %s\n", part.details.c_str());
  for (const auto& v : report.violations) part.notes.push_back("VM audit: " + v.message);
  part.status = written.ok ? PartResult::Status::kPass : PartResult::Status::kFail;
  return part;
}

}  // namespace kniommu::main_job
