#include "merge.h"

#include <algorithm>
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <map>
#include <set>
#include <sstream>

#include "common/input_file.h"
#include "coverage_table.h"
#include "junit.h"
#include "render_file.h"
#include "run_json.h"

namespace kniommu::conform {
namespace {

namespace pt = boost::property_tree;
using Status = conformance::ConfigOutcome::Status;

constexpr uint64_t kMaxInputBytes = uint64_t{64} << 20;

struct BadInput {
  std::string why;
};

uint64_t to_u64(const std::string& s, const char* what) {
  if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos)
    throw BadInput{std::string(what) + " is not a non-negative integer: '" + s + "'"};
  return std::stoull(s);
}

double to_seconds(const std::string& s, const char* what) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(v >= 0) || v > 1e9)
    throw BadInput{std::string(what) + " is not a number of seconds: '" + s + "'"};
  return v;
}

Status to_status(const std::string& s) {
  for (Status st : {Status::Passed, Status::Failed, Status::Unsupported, Status::Error})
    if (s == conformance::status_name(st)) return st;
  throw BadInput{"unknown status '" + s + "'"};
}

void parse_shard(const std::string& s, ShardFile& f) {
  const auto slash = s.find('/');
  if (slash == std::string::npos) throw BadInput{"shard is not I/N: '" + s + "'"};
  f.shard_index = static_cast<unsigned>(to_u64(s.substr(0, slash), "shard index"));
  f.shard_count = static_cast<unsigned>(to_u64(s.substr(slash + 1), "shard count"));
  if (f.shard_count == 0 || f.shard_index >= f.shard_count || f.shard_count > 1000000)
    throw BadInput{"shard is not I/N with 0 <= I < N: '" + s + "'"};
}

void read_json(const std::string& text, ShardFile& f) {
  pt::ptree root;
  std::istringstream in(text);
  try {
    pt::read_json(in, root);
  } catch (const pt::json_parser_error& e) {
    throw BadInput{"malformed JSON: line " + std::to_string(e.line()) + ": " + e.message()};
  }
  if (root.get<std::string>("tool", "") != "kniommu-conform")
    throw BadInput{"JSON, but not written by kniommu-conform --coverage-out"};
  if (root.get<std::string>("format", "") != std::to_string(kRunJsonFormat))
    throw BadInput{"unsupported format version '" + root.get<std::string>("format", "") + "'"};
  f.seed = to_u64(root.get<std::string>("seed", ""), "seed");
  parse_shard(root.get<std::string>("shard", ""), f);
  const auto configs = root.get_child_optional("configs");
  if (!configs) throw BadInput{"no \"configs\" list"};
  for (const auto& [unused, c] : *configs) {
    conformance::ConfigOutcome o;
    o.config = c.get<std::string>("name", "");
    if (o.config.empty()) throw BadInput{"a configuration without a name"};
    o.status = to_status(c.get<std::string>("status", ""));
    o.cases_run = static_cast<int>(to_u64(c.get<std::string>("cases", ""), "cases"));
    o.commands = to_u64(c.get<std::string>("commands", ""), "commands");
    o.seconds = to_seconds(c.get<std::string>("seconds", ""), "seconds");
    o.seed = f.seed;
    o.failure = c.get<std::string>("failure", "");
    o.counterexample = c.get<std::string>("counterexample", "");
    o.counterexample_length = static_cast<int>(
        to_u64(c.get<std::string>("counterexample_length", "0"), "counterexample_length"));
    o.rc_params = c.get<std::string>("rc_params", "");
    o.replay_file = c.get<std::string>("replay_file", "");
    if (const auto slow = c.get_child_optional("slowest"))
      for (const auto& [u2, s] : *slow)
        o.slowest.push_back(conformance::SlowCase{
            static_cast<int>(to_u64(s.get<std::string>("case", ""), "slowest case")),
            to_seconds(s.get<std::string>("seconds", ""), "slowest seconds"),
            to_u64(s.get<std::string>("commands", ""), "slowest commands")});
    if (const auto counts = c.get_child_optional("coverage.counts"))
      for (const auto& [k, v] : *counts) o.coverage.counts[k] = to_u64(v.data(), "coverage count");
    if (const auto missing = c.get_child_optional("coverage.missing"))
      for (const auto& [u3, v] : *missing) o.coverage.missing.push_back(v.data());
    if (const auto unr = c.get_child_optional("coverage.unreachable"))
      for (const auto& [k, v] : *unr) o.coverage.unreachable.emplace_back(k, v.data());
    f.configs.push_back(std::move(o));
  }
}

void read_junit(const std::string& text, ShardFile& f) {
  pt::ptree root;
  std::istringstream in(text);
  try {
    pt::read_xml(in, root);
  } catch (const pt::xml_parser_error& e) {
    throw BadInput{"malformed XML: line " + std::to_string(e.line()) + ": " + e.message()};
  }
  const auto suites = root.get_child_optional("testsuites");
  if (!suites) throw BadInput{"XML, but not JUnit (no <testsuites>)"};
  bool shard_seen = false;
  for (const auto& [tag, suite] : *suites) {
    if (tag != "testsuite") continue;
    for (const auto& [ctag, tc] : suite) {
      if (ctag != "testcase") continue;
      conformance::ConfigOutcome o;
      o.config = tc.get<std::string>("<xmlattr>.name", "");
      if (o.config.empty()) throw BadInput{"a <testcase> without a name"};
      o.seconds = to_seconds(tc.get<std::string>("<xmlattr>.time", ""), "testcase time");
      o.status = tc.get_child_optional("failure")   ? Status::Failed
                 : tc.get_child_optional("error")   ? Status::Error
                 : tc.get_child_optional("skipped") ? Status::Unsupported
                                                    : Status::Passed;
      if (const auto failure = tc.get_child_optional("failure"))
        o.failure = failure->get<std::string>("<xmlattr>.message", "");
      if (const auto error = tc.get_child_optional("error"))
        o.failure = error->get<std::string>("<xmlattr>.message", "");
      const auto props = tc.get_child_optional("properties");
      if (!props) throw BadInput{"<testcase " + o.config + "> has no kniommu-conform properties"};
      std::string shard, seed, missing;
      for (const auto& [ptag, p] : *props) {
        if (ptag != "property") continue;
        const std::string name = p.get<std::string>("<xmlattr>.name", "");
        const std::string value = p.get<std::string>("<xmlattr>.value", "");
        if (name == "shard") shard = value;
        else if (name == "seed") seed = value;
        else if (name == "cases") o.cases_run = static_cast<int>(to_u64(value, "cases"));
        else if (name == "commands") o.commands = to_u64(value, "commands");
        else if (name == "replay_file") o.replay_file = value;
        else if (name == "coverage-missing") missing = value;
        else if (name.rfind("coverage:", 0) == 0)
          o.coverage.counts[name.substr(9)] = to_u64(value, "coverage count");
        else if (name.rfind("coverage-unreachable:", 0) == 0)
          o.coverage.unreachable.emplace_back(name.substr(21), value);
        else if (name.rfind("slowest:case", 0) == 0) {
          conformance::SlowCase s;
          s.index = static_cast<int>(to_u64(name.substr(12), "slowest case"));
          std::istringstream v(value);
          std::string unit;
          if (!(v >> s.seconds >> unit >> s.commands)) throw BadInput{"bad slowest-case value"};
          o.slowest.push_back(s);
        }
      }
      if (shard.empty() || seed.empty())
        throw BadInput{"<testcase " + o.config + "> lacks the shard/seed properties"};
      ShardFile probe;
      parse_shard(shard, probe);
      const uint64_t s = to_u64(seed, "seed");
      if (shard_seen && (probe.shard_index != f.shard_index || probe.shard_count != f.shard_count ||
                         s != f.seed))
        throw BadInput{"test cases of different shards or seeds in one file"};
      f.shard_index = probe.shard_index;
      f.shard_count = probe.shard_count;
      f.seed = s;
      o.seed = s;
      shard_seen = true;
      std::istringstream ms(missing);
      for (std::string k; ms >> k;) o.coverage.missing.push_back(k);
      f.configs.push_back(std::move(o));
    }
  }
  if (!shard_seen) throw BadInput{"JUnit XML without kniommu-conform test cases"};
}

Status combine(Status a, Status b) {
  const auto rank = [](Status s) {
    return s == Status::Failed ? 3 : s == Status::Error ? 2 : s == Status::Passed ? 1 : 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace

std::optional<ShardFile> read_shard_file(const std::string& path, std::string& error) {
  std::string text;
  if (!read_input_file(path, kMaxInputBytes, text, error)) return std::nullopt;
  ShardFile f;
  f.path = path;
  const auto first = text.find_first_not_of(" \t\r\n");
  try {
    if (first != std::string::npos && text[first] == '{')
      read_json(text, f);
    else if (first != std::string::npos && text[first] == '<')
      read_junit(text, f);
    else
      throw BadInput{"neither JSON (--coverage-out) nor JUnit XML (--junit)"};
  } catch (const BadInput& b) {
    error = path + ": " + b.why;
    return std::nullopt;
  } catch (const pt::ptree_error& e) {
    error = path + ": " + e.what();
    return std::nullopt;
  }
  if (f.configs.empty()) {
    error = path + ": no configurations in it";
    return std::nullopt;
  }
  return f;
}

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
      for (const auto& s : o.slowest) m.slowest.emplace_back(o.config + " (shard " + shard + ")", s);
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
