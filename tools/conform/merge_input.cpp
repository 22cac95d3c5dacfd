#include "merge_input.h"

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <charconv>
#include <sstream>

#include "common/input_file.h"
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
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size())
    throw BadInput{std::string(what) + " is not a non-negative integer below 2^64: '" + s + "'"};
  return v;
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
        if (name == "shard")
          shard = value;
        else if (name == "seed")
          seed = value;
        else if (name == "cases")
          o.cases_run = static_cast<int>(to_u64(value, "cases"));
        else if (name == "commands")
          o.commands = to_u64(value, "commands");
        else if (name == "replay_file")
          o.replay_file = value;
        else if (name == "coverage-missing")
          missing = value;
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
      if (shard_seen &&
          (probe.shard_index != f.shard_index || probe.shard_count != f.shard_count || s != f.seed))
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

}  // namespace

std::optional<ShardFile> read_shard_file(const std::string& path, std::string& error) {
  std::string text;
  if (!read_input_file(path, kMaxInputBytes, text, error)) return std::nullopt;
  return parse_shard_text(text, path, error);
}

std::optional<ShardFile> parse_shard_text(const std::string& text, const std::string& path,
                                          std::string& error) {
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

}  // namespace kniommu::conform
