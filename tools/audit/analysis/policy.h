// An auditor's policy: which device belongs to which driver or trust zone, and which physical
// ranges each zone may (allow) or must never (deny) reach. It turns the audit's reach into
// violations (policy-unlisted, policy-reach, policy-zone-mix). Format: docs/audit-policy.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analysis/ranges.h"

namespace kniommu::audit {

struct Report;

struct Policy {
  std::map<std::uint16_t, std::string> zone_of;     // device -> zone
  std::map<std::string, std::vector<Range>> allow;  // zone -> may reach (normalized); none: any
  std::map<std::string, std::vector<Range>> deny;   // zone or "*" -> must not reach (normalized)
};

// Parses the text of a policy file. On error returns nullopt and sets `error` to
// "line N: <what is wrong>".
std::optional<Policy> parse_policy(const std::string& text, std::string& error);

// Appends policy violations to report.violations (report.devices must be complete).
void check_policy(const Policy& policy, Report& report);

}  // namespace kniommu::audit
