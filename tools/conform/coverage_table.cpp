#include "coverage_table.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace kniommu::conform {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& k) {
  return std::find(v.begin(), v.end(), k) != v.end();
}

const std::string* reason_of(const conformance::CoverageEvidence& c, const std::string& k) {
  for (const auto& [key, why] : c.unreachable)
    if (key == k) return &why;
  return nullptr;
}

}  // namespace

void print_coverage(std::FILE* out, const std::vector<conformance::ConfigOutcome>& outcomes) {
  using Status = conformance::ConfigOutcome::Status;
  std::vector<const conformance::ConfigOutcome*> cols;
  std::set<std::string> keys;
  for (const auto& o : outcomes) {
    if (o.status == Status::Error || o.status == Status::Unsupported) continue;
    cols.push_back(&o);
    for (const auto& [k, v] : o.coverage.counts) keys.insert(k);
    keys.insert(o.coverage.missing.begin(), o.coverage.missing.end());
    for (const auto& [k, why] : o.coverage.unreachable) keys.insert(k);
  }
  if (cols.empty()) return;
  std::fprintf(out,
               "\nCoverage: times observed per configuration (MISSING: documented, never "
               "observed; n/a: unreachable by design, reasons below)\n");
  std::fprintf(out, "  %-44s", "");
  for (const auto* o : cols) std::fprintf(out, " %10s", o->config.c_str());
  std::fprintf(out, "\n");
  std::vector<std::string> surprises;
  for (const std::string& k : keys) {
    std::fprintf(out, "  %-44s", k.c_str());
    for (const auto* o : cols) {
      const auto it = o->coverage.counts.find(k);
      const bool unreachable = reason_of(o->coverage, k) != nullptr;
      std::string cell = ".";
      if (it != o->coverage.counts.end()) {
        cell = std::to_string(it->second) + (unreachable ? "!" : "");
        if (unreachable) surprises.push_back(o->config + " " + k);
      } else if (unreachable) {
        cell = "n/a";
      } else if (contains(o->coverage.missing, k)) {
        cell = "MISSING";
      }
      std::fprintf(out, " %10s", cell.c_str());
    }
    std::fprintf(out, "\n");
  }
  // Configuration-dependent paths (refinement_tests/src/coverage.h): how often each was reached.
  // A full default run fails a configuration that never reached one it has (its failure names
  // them); here only the counts.
  std::set<std::string> paths;
  for (const auto* o : cols)
    for (const auto& [p, n] : o->reached) paths.insert(p);
  for (const std::string& p : paths) {
    std::fprintf(out, "  %-44s", ("path:" + p).c_str());
    for (const auto* o : cols) {
      const auto it = o->reached.find(p);
      std::fprintf(out, " %10s", it == o->reached.end() ? "." : std::to_string(it->second).c_str());
    }
    std::fprintf(out, "\n");
  }
  int missing = 0;
  for (const auto* o : cols) {
    if (o->coverage.missing.empty()) continue;
    std::string list;
    for (const auto& k : o->coverage.missing) list += " " + k;
    std::fprintf(out, "  %s never observed (%zu):%s\n", o->config.c_str(),
                 o->coverage.missing.size(), list.c_str());
    missing += static_cast<int>(o->coverage.missing.size());
  }
  if (missing == 0) std::fprintf(out, "  every documented Retcode and path was observed\n");
  // Unreachable by design, grouped by reason: "reason: keys (configurations)".
  std::map<std::string, std::map<std::string, std::set<std::string>>> by_reason;
  for (const auto* o : cols)
    for (const auto& [k, why] : o->coverage.unreachable) by_reason[why][k].insert(o->config);
  if (!by_reason.empty()) std::fprintf(out, "  unreachable by design:\n");
  for (const auto& [why, ks] : by_reason) {
    std::map<std::set<std::string>, std::vector<std::string>> by_configs;
    for (const auto& [k, cfgs] : ks) by_configs[cfgs].push_back(k);
    for (const auto& [cfgs, list] : by_configs) {
      std::string c, l;
      for (const auto& x : cfgs) c += (c.empty() ? "" : ",") + x;
      for (const auto& x : list) l += " " + x;
      std::fprintf(out, "    [%s] %s:%s\n", c.c_str(), why.c_str(), l.c_str());
    }
  }
  for (const auto& s : surprises)
    std::fprintf(out, "  NOTE: observed although listed as unreachable by design: %s\n", s.c_str());
}

}  // namespace kniommu::conform
