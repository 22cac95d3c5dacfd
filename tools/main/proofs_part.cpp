// Proofs part: the Z3 proof obligations, run as the CTest family `proofs` of this build tree
// (the same entries `scripts/test` runs), with their output kept in proofs.log.
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "parts.h"
#include "render/shell.h"

namespace kniommu::main_job {

using audit::shell_quote;
PartResult run_proofs_part(const JobOptions& options) {
  PartResult part;
  part.name = "proofs";
  std::printf("== proofs: ctest -L proofs\n");
  std::fflush(stdout);
  const std::string log_path = options.out_dir + "/proofs.log";
  const std::string junit = options.out_dir + "/proofs.xml";
  const std::string command =
      shell_quote(KNIOMMU_CTEST) + " --test-dir " + shell_quote(options.binary_dir) +
      " -L proofs --output-on-failure --output-junit " + shell_quote(junit) + " 2>&1";
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    part.status = PartResult::Status::kFail;
    part.details = "cannot run ctest";
    return part;
  }
  std::string output;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    output.append(buffer, n);
  const int status = pclose(pipe);
  part.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::ofstream(log_path) << output;
  part.outputs.push_back({"proofs log", log_path});

  if (output.find("No tests were found") != std::string::npos) {
    part.details = "no CTest entries with label proofs in " + options.binary_dir;
    return part;  // kMissing
  }
  // ctest's closing line: "<p>% tests passed, <failed> test(s) failed out of <total>".
  int failed = 0;
  int total = 0;
  const auto at = output.find("% tests passed, ");
  const auto line =
      at == std::string::npos ? std::string() : output.substr(output.rfind('\n', at) + 1);
  if (std::sscanf(line.c_str(), "%*d%% tests passed, %d test%*[s] failed out of %d", &failed,
                  &total) != 2 &&
      std::sscanf(line.c_str(), "%*d%% tests passed, %d test failed out of %d", &failed, &total) !=
          2) {
    part.status = PartResult::Status::kFail;
    part.details = "could not read ctest's result; see the log";
    return part;
  }
  part.status = failed == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0
                    ? PartResult::Status::kPass
                    : PartResult::Status::kFail;
  part.details =
      std::to_string(total - failed) + "/" + std::to_string(total) + " proof tests passed";
  part.outputs.push_back({"proofs JUnit", junit});
  std::printf("  %s\n", part.details.c_str());
  if (failed != 0) part.notes.push_back("proofs: failing obligations are listed in " + log_path);
  return part;
}

}  // namespace kniommu::main_job
