#include "config_report.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace kniommu::conformance {
namespace {

// "KNCR <version> <payload bytes> <fnv1a-64 of payload, hex>\n" then the payload.
constexpr const char* kMagic = "KNCR";
constexpr int kVersion = 1;

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

bool read_u64(std::istream& in, uint64_t& v) {
  std::string tok;
  if (!(in >> tok) || tok.empty() || tok.size() > 20 ||
      tok.find_first_not_of("0123456789") != std::string::npos)
    return false;
  char* end = nullptr;
  v = std::strtoull(tok.c_str(), &end, 10);
  return *end == '\0';
}

bool read_field(std::istream& in, const char* name, uint64_t& v) {
  std::string key;
  return in >> key && key == name && read_u64(in, v);
}

}  // namespace

std::string encode_config_report(const ConfigReport& r) {
  std::ostringstream p;
  p << "passed " << (r.passed ? 1 : 0) << "\ncases_run " << r.cases_run << "\nbudget_exhausted "
    << (r.budget_exhausted ? 1 : 0) << "\ncommands " << r.commands << "\nslowest "
    << r.slowest.size() << '\n';
  for (const SlowCase& c : r.slowest) {
    char secs[64];
    std::snprintf(secs, sizeof secs, "%a", c.seconds);  // exact round trip
    p << c.index << ' ' << secs << ' ' << c.commands << '\n';
  }
  const std::string counts = coverage::serialize(r.counts);
  p << "counts " << counts.size() << '\n' << counts;
  const std::string payload = p.str();
  char header[96];
  std::snprintf(header, sizeof header, "%s %d %zu %016" PRIx64 "\n", kMagic, kVersion,
                payload.size(), fnv1a(payload));
  return header + payload;
}

bool decode_config_report(const std::string& wire, ConfigReport& out) {
  const size_t nl = wire.find('\n');
  if (nl == std::string::npos) return false;
  char magic[8] = {};
  int version = 0;
  size_t length = 0;
  uint64_t sum = 0;
  int used = 0;
  const std::string header = wire.substr(0, nl);
  if (std::sscanf(header.c_str(), "%4s %d %zu %16" SCNx64 "%n", magic, &version, &length, &sum,
                  &used) != 4 ||
      static_cast<size_t>(used) != header.size() || std::string(magic) != kMagic ||
      version != kVersion)
    return false;
  const std::string payload = wire.substr(nl + 1);
  if (payload.size() != length || fnv1a(payload) != sum) return false;
  std::istringstream in(payload);
  ConfigReport r;
  uint64_t passed = 0, cases = 0, budget = 0, slowest = 0;
  if (!read_field(in, "passed", passed) || passed > 1 || !read_field(in, "cases_run", cases) ||
      cases > 1000000000ull || !read_field(in, "budget_exhausted", budget) || budget > 1 ||
      !read_field(in, "commands", r.commands) || !read_field(in, "slowest", slowest) ||
      slowest > kSlowestKept)
    return false;
  r.passed = passed == 1;
  r.cases_run = static_cast<int>(cases);
  r.budget_exhausted = budget == 1;
  for (uint64_t i = 0; i < slowest; ++i) {
    uint64_t index = 0;
    std::string secs;
    SlowCase c;
    if (!read_u64(in, index) || index > 1000000000ull || !(in >> secs) || !read_u64(in, c.commands))
      return false;
    char* end = nullptr;
    c.seconds = std::strtod(secs.c_str(), &end);
    if (*end != '\0') return false;
    c.index = static_cast<int>(index);
    r.slowest.push_back(c);
  }
  uint64_t counts_len = 0;
  if (!read_field(in, "counts", counts_len) || in.get() != '\n') return false;
  const auto at = in.tellg();
  if (at < 0 || payload.size() - static_cast<size_t>(at) != counts_len) return false;
  if (!coverage::parse(payload.substr(static_cast<size_t>(at)), r.counts)) return false;
  out = std::move(r);
  return true;
}

}  // namespace kniommu::conformance
