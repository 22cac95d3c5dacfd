// Command line of kniommu-conform.
#pragma once

#include <optional>
#include <string>

#include "kniommu/conformance.h"

namespace kniommu::conform {

enum class ProgressMode { kAuto, kOn, kOff };

struct CliOptions {
  conformance::ConformanceOptions run;
  std::string adapter;       // empty: the built-in implementation
  std::string junit;         // JUnit XML output file
  std::string coverage_out;  // JSON of the whole run (coverage, outcomes, slowest cases)
  ProgressMode progress = ProgressMode::kAuto;
  bool list_configs = false;
};

extern const char* const kUsage;

// nullopt with `error` set on bad usage. Prints nothing.
std::optional<CliOptions> parse_options(int argc, char** argv, std::string& error);

}  // namespace kniommu::conform
