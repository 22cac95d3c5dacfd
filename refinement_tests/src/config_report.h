// What an optimistic configuration child (isolated_case.h, run_config_in_child) sends back to
// run_config: everything the runner needs after the property, so a passing child's numbers are
// the ones the per-case path would give. The wire is versioned and length-checked: a child that
// dies mid-report leaves a prefix that never decodes, and the runner then falls back to the
// authoritative per-case path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coverage_counters.h"
#include "kniommu/conformance.h"

namespace kniommu::conformance {

struct ConfigReport {
  bool passed = false;  // the property passed (RapidCheck SuccessResult)
  int cases_run = 0;
  bool budget_exhausted = false;
  uint64_t commands = 0;
  std::vector<SlowCase> slowest;
  // The coverage counters, plus the path-reach counters as "path:KEY", the checks skipped for a
  // missing adapter entry as "skip:KEY" and the checks the judge could not perform (take_skips)
  // as "qskip:KEY", the same prefixes a per-case child uses.
  coverage::Counts counts;
};

std::string encode_config_report(const ConfigReport& r);
// False on anything but a complete report of this version: wrong magic or version, a length
// that does not match, a bad checksum, a malformed field or trailing bytes.
bool decode_config_report(const std::string& wire, ConfigReport& out);

}  // namespace kniommu::conformance
