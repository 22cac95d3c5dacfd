#include "merge.h"

#include <algorithm>
#include <map>
#include <set>

#include "coverage_table.h"
#include "junit.h"
#include "render_file.h"
#include "run_json.h"

namespace kniommu::conform {
namespace {

using Status = conformance::ConfigOutcome::Status;

Status combine(Status a, Status b) {
  const auto rank = [](Status s) {
    return s == Status::Failed ? 3 : s == Status::Error ? 2 : s == Status::Passed ? 1 : 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace

std::optional<Merged> merge_shards(std::vector<ShardFile> files, std::string& error) {
  Merged m;
  if (files.empty()) {
    error = "no input files";
    return std::nullopt;
  }
  std::map<unsigned, std::string> seen;
  for (const ShardFile& f : files) {
    const ShardFile& first = files.front();
    if (f.seed != first.seed || f.shard_count != first.shard_count) {
      error = f.path + ": seed " + std::to_string(f.seed) + ", " + std::to_string(f.shard_count) +
              " shards; " + first.path + ": seed " + std::to_string(first.seed) + ", " +
              std::to_string(first.shard_count) + " shards: not shards of one run";
      return std::nullopt;
    }
    const auto [it, fresh] = seen.emplace(f.shard_index, f.path);
    if (!fresh) {
      error = "shard " + std::to_string(f.shard_index) + "/" + std::to_string(f.shard_count) +
              " given twice: " + it->second + " and " + f.path;
      return std::nullopt;
    }
  }
  for (unsigned i = 0; i < files.front().shard_count; ++i)
    if (seen.count(i) == 0) m.missing_shards.push_back(i);
  std::map<std::string, size_t> index;
  std::map<std::string, std::set<std::string>> missing;  // config -> keys missing in some shard
  for (const ShardFile& f : files) {
    const std::string shard = std::to_string(f.shard_index) + "/" + std::to_string(f.shard_count);
    for (const auto& o : f.configs) {
      auto [it, fresh] = index.emplace(o.config, m.result.outcomes.size());
      if (fresh) {
        conformance::ConfigOutcome merged;
        merged.config = o.config;
        merged.status = o.status;
        merged.seed = o.seed;
        m.result.outcomes.push_back(merged);
      }
      conformance::ConfigOutcome& t = m.result.outcomes[it->second];
      t.status = combine(t.status, o.status);
      t.cases_run += o.cases_run;
      t.commands += o.commands;
      t.seconds += o.seconds;
      for (const auto& [k, v] : o.coverage.counts) t.coverage.counts[k] += v;
      missing[o.config].insert(o.coverage.missing.begin(), o.coverage.missing.end());
      for (const auto& u : o.coverage.unreachable)
        if (std::find(t.coverage.unreachable.begin(), t.coverage.unreachable.end(), u) ==
            t.coverage.unreachable.end())
          t.coverage.unreachable.push_back(u);
      if (o.status == Status::Failed || o.status == Status::Error) {
        m.failures.push_back(ShardOutcome{o, shard, f.path});
        if (t.failure.empty()) t.failure = o.failure;
      }
      for (const auto& s : o.slowest)
        m.slowest.emplace_back(o.config + " (shard " + shard + ")", s);
    }
  }
  for (auto& t : m.result.outcomes) {
    for (const auto& k : missing[t.config])
      if (t.coverage.counts.count(k) == 0) t.coverage.missing.push_back(k);
    if (t.status == Status::Failed || t.status == Status::Error) m.result.passed = false;
  }
  std::sort(m.slowest.begin(), m.slowest.end(),
            [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  if (m.slowest.size() > 10) m.slowest.resize(10);
  m.files = std::move(files);
  return m;
}

void print_merged(std::FILE* out, const Merged& m) {
  std::fprintf(out, "kniommu-conform merge: %zu file(s), %zu of %u shard(s), seed %llu\n",
               m.files.size(), m.files.size(), m.files.front().shard_count,
               static_cast<unsigned long long>(m.files.front().seed));
  for (const auto& o : m.result.outcomes)
    std::fprintf(out, "  %-12s %-11s %7d cases %9llu commands %9.1fs (sum over shards)\n",
                 o.config.c_str(), conformance::status_name(o.status), o.cases_run,
                 static_cast<unsigned long long>(o.commands), o.seconds);
  if (!m.failures.empty()) std::fprintf(out, "\nFailures:\n");
  for (const auto& f : m.failures) {
    std::fprintf(out, "  %s, shard %s (%s): %s\n", f.outcome.config.c_str(), f.shard.c_str(),
                 f.file.c_str(), f.outcome.failure.substr(0, f.outcome.failure.find('\n')).c_str());
    std::fprintf(out, "    replay file: %s\n",
                 f.outcome.replay_file.empty() ? "(none recorded: run the shard with --replay-out)"
                                               : f.outcome.replay_file.c_str());
  }
  if (!m.slowest.empty()) std::fprintf(out, "\nSlowest cases:\n");
  for (const auto& [where, s] : m.slowest)
    std::fprintf(out, "  %-28s case %6d %8.3fs %6llu commands\n", where.c_str(), s.index, s.seconds,
                 static_cast<unsigned long long>(s.commands));
  print_coverage(out, m.result.outcomes);
  std::string missing;
  for (unsigned i : m.missing_shards) missing += " " + std::to_string(i);
  if (!missing.empty()) {  // no verdict on part of a run
    std::fprintf(out, "\nINCOMPLETE: shard(s)%s of %u missing\n", missing.c_str(),
                 m.files.front().shard_count);
    return;
  }
  std::fprintf(out, "%s\n", m.result.passed ? "MERGED: CONFORMS" : "MERGED: DOES NOT CONFORM");
}

int merge_main(int argc, char** argv) {
  std::vector<ShardFile> files;
  std::string json_out, junit_out, error;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--coverage-out" || a == "--junit") && i + 1 < argc) {
      (a == "--junit" ? junit_out : json_out) = argv[++i];
      continue;
    }
    if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "kniommu-conform merge: unknown argument '%s'\n", a.c_str());
      return 2;
    }
    auto f = read_shard_file(a, error);
    if (!f) {
      std::fprintf(stderr, "kniommu-conform merge: %s\n", error.c_str());
      return 2;
    }
    files.push_back(std::move(*f));
  }
  auto merged = merge_shards(std::move(files), error);
  if (!merged) {
    std::fprintf(stderr, "kniommu-conform merge: %s\n", error.c_str());
    return 2;
  }
  print_merged(stdout, *merged);
  const RunInfo info{"merged", merged->files.front().seed, 0, 1};
  if (!json_out.empty() && !write_file(json_out, run_json(merged->result, info))) {
    std::fprintf(stderr, "kniommu-conform merge: cannot write %s\n", json_out.c_str());
    return 2;
  }
  if (!junit_out.empty() &&
      !write_file(junit_out, junit_xml(merged->result, "kniommu-conform", "0/1"))) {
    std::fprintf(stderr, "kniommu-conform merge: cannot write %s\n", junit_out.c_str());
    return 2;
  }
  if (!merged->missing_shards.empty()) {
    std::fprintf(stderr, "kniommu-conform merge: %zu of %u shards missing; no verdict\n",
                 merged->missing_shards.size(), merged->files.front().shard_count);
    return 2;
  }
  return merged->result.passed ? 0 : 1;
}

}  // namespace kniommu::conform
