// Replay files (docs/reproducing.md): written when a case fails, read by --replay. Reading
// refuses anything that is not exactly such a file, so an input error is never reported as a
// conformance verdict.
#include <rapidcheck.h>

#include <sstream>

#include "common/input_file.h"
#include "kniommu/conformance.h"
#include "replay.h"

namespace kniommu::conformance {
namespace {

constexpr uint64_t kMaxReplayBytes = 1u << 20;  // a recorded case is a few KiB
constexpr const char* kHeader = "# kniommu conformance failure";

}  // namespace

std::string replay_test_id(const std::string& config, const std::string& mutant) {
  return mutant.empty() ? "refinement/" + config : "refinement/" + config + "/" + mutant;
}

std::optional<ReplayFile> read_replay_file(const std::string& path, std::string& error) {
  std::string text;
  if (!read_input_file(path, kMaxReplayBytes, text, error)) return std::nullopt;
  if (text.rfind(kHeader, 0) != 0) {
    error = path + ": not a kniommu replay file (it must start with \"" + kHeader + "\")";
    return std::nullopt;
  }
  ReplayFile r;
  bool has_seed = false;
  std::istringstream in(text);
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    if (eq == std::string::npos) {
      error = where + "expected key=value";
      return std::nullopt;
    }
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "config") {
      r.config = value;
    } else if (key == "mutant") {
      r.mutant = value;
    } else if (key == "adapter") {
      r.adapter = value;
    } else if (key == "RC_PARAMS") {
      r.rc_params = value;
    } else if (key == "seed") {
      char* end = nullptr;
      r.seed = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || r.seed == 0) {
        error = where + "seed must be a positive integer";
        return std::nullopt;
      }
      has_seed = true;
    } else {
      error = where + "unknown key '" + key + "'";
      return std::nullopt;
    }
  }
  if (r.config.empty() || r.rc_params.empty() || !has_seed) {
    error = path + ": incomplete replay file (needs config=, seed= and RC_PARAMS=)";
    return std::nullopt;
  }
  if (!find_config(r.config)) {
    error = path + ": recorded for configuration '" + r.config +
            "', which this kniommu-conform does not know (--list-configs)";
    return std::nullopt;
  }
  std::unordered_map<std::string, rc::detail::Reproduce> reproduce;
  try {
    reproduce = rc::detail::configFromString(r.rc_params).reproduce;
  } catch (const std::exception& e) {
    error = path + ": RC_PARAMS is not a RapidCheck reproduce string: " + e.what();
    return std::nullopt;
  }
  const std::string id = replay_test_id(r.config, r.mutant);
  if (reproduce.size() != 1 || reproduce.count(id) == 0) {
    error = path + ": its reproduce string was recorded for another case than " + id +
            " (configuration and mutant must match the recorded ones)";
    return std::nullopt;
  }
  return r;
}

void write_replay_file(const std::string& path, const ReplayFile& r,
                       const std::string& counterexample) {
  std::ofstream out(path, std::ios::trunc);
  out << kHeader << " (docs/reproducing.md)\n"
      << "config=" << r.config << "\nmutant=" << r.mutant << "\nadapter=" << r.adapter
      << "\nseed=" << r.seed << "\nRC_PARAMS=" << r.rc_params << "\n";
  std::istringstream lines(counterexample);
  for (std::string l; std::getline(lines, l);) out << "# " << l << "\n";
}

}  // namespace kniommu::conformance
