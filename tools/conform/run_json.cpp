#include "run_json.h"

#include <sstream>

#include "common/json_quote.h"
#include "report.h"

namespace kniommu::conform {

std::string json_string(const std::string& s) { return json_quote(s); }

std::string run_json(const conformance::ConformanceResult& result, const RunInfo& info) {
  std::ostringstream j;
  j << "{\"tool\":\"kniommu-conform\",\"format\":" << kRunJsonFormat
    << ",\"adapter\":" << json_string(info.adapter) << ",\"seed\":\"" << info.seed
    << "\",\"shard\":\"" << info.shard_index << "/" << info.shard_count
    << "\",\"passed\":" << (result.passed ? "true" : "false") << ",\"configs\":[";
  bool first = true;
  for (const auto& o : result.outcomes) {
    j << (first ? "" : ",") << "\n {\"name\":" << json_string(o.config)
      << ",\"status\":" << json_string(conformance::status_name(o.status))
      << ",\"cases\":" << o.cases_run << ",\"commands\":" << o.commands
      << ",\"seconds\":" << o.seconds << ",\"commands_per_second\":"
      << (o.seconds > 0 ? static_cast<double>(o.commands) / o.seconds : 0.0)
      << ",\"cpu_seconds\":" << o.cpu_seconds << ",\"commands_per_cpu_second\":"
      << commands_per_cpu_second(o.commands, o.cpu_seconds) << ",\"budget_exhausted\":" << (o.budget_exhausted ? "true" : "false")
      << ",\"failure\":" << json_string(o.failure)
      << ",\"counterexample_length\":" << o.counterexample_length
      << ",\"counterexample\":" << json_string(o.counterexample)
      << ",\"rc_params\":" << json_string(o.rc_params)
      << ",\"replay_file\":" << json_string(o.replay_file) << ",\"slowest\":[";
    for (size_t i = 0; i < o.slowest.size(); ++i)
      j << (i ? "," : "") << "{\"case\":" << o.slowest[i].index
        << ",\"seconds\":" << o.slowest[i].seconds << ",\"commands\":" << o.slowest[i].commands
        << "}";
    j << "],\n  \"coverage\":{\"counts\":{";
    bool f = true;
    for (const auto& [k, v] : o.coverage.counts) {
      j << (f ? "" : ",") << json_string(k) << ":" << v;
      f = false;
    }
    j << "},\"missing\":[";
    for (size_t i = 0; i < o.coverage.missing.size(); ++i)
      j << (i ? "," : "") << json_string(o.coverage.missing[i]);
    j << "],\"unreachable\":{";
    for (size_t i = 0; i < o.coverage.unreachable.size(); ++i)
      j << (i ? "," : "") << json_string(o.coverage.unreachable[i].first) << ":"
        << json_string(o.coverage.unreachable[i].second);
    j << "}}}";
    first = false;
  }
  j << "]}\n";
  return j.str();
}

}  // namespace kniommu::conform
