#include "analysis/policy.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <sstream>

#include "analysis/analysis.h"
#include "analysis/names.h"

namespace kniommu::audit {
namespace {

bool parse_u64(const std::string& s, std::uint64_t& v) {
  if (s.empty() || s[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  v = std::strtoull(s.c_str(), &end, 0);
  return *end == '\0' && errno == 0;
}

// "0x1000-0x1fff" (inclusive, page-granular: first page-aligned, last ends a page).
bool parse_range(const std::string& s, Range& r, std::string& error) {
  const auto dash = s.find('-');
  std::uint64_t first = 0, last = 0;
  if (dash == std::string::npos || !parse_u64(s.substr(0, dash), first) ||
      !parse_u64(s.substr(dash + 1), last)) {
    error = "bad range '" + s + "' (expected FIRST-LAST, e.g. 0x0-0xffffff)";
    return false;
  }
  if (first % 4096 != 0 || last % 4096 != 4095 || last < first) {
    error = "range '" + s + "' must cover whole 4 KiB pages (FIRST aligned, LAST = page end - 1)";
    return false;
  }
  r = {first, (last - first) / 4096 + 1, kRead | kWrite};
  return true;
}

bool parse_perms(const std::string& s, std::uint8_t& perms) {
  perms = s == "R" ? kRead : s == "W" ? kWrite : s == "RW" ? (kRead | kWrite) : 0;
  return perms != 0;
}

bool valid_zone(const std::string& z) {
  if (z.empty() || z.size() > 64) return false;
  for (const char c : z) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.'))
      return false;
  }
  return true;
}

std::vector<Range> all_memory(unsigned haw) {
  return {
      {0, haw >= 64 ? (std::uint64_t{1} << 52) : (std::uint64_t{1} << (haw - 12)), kRead | kWrite}};
}

}  // namespace

std::optional<Policy> parse_policy(const std::string& text, std::string& error) {
  Policy p;
  std::istringstream in(text);
  std::size_t n = 0;
  std::set<std::string> zones_named;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    if (w.empty()) continue;
    const auto fail = [&](const std::string& what) {
      error = "line " + std::to_string(n) + ": " + what;
      return std::nullopt;
    };
    if (w[0] == "device") {
      if (w.size() != 3) return fail("expected: device BDF ZONE");
      const auto bdf = parse_bdf(w[1]);
      if (!bdf) return fail("bad BDF '" + w[1] + "' (expected BB:DD.F)");
      if (!valid_zone(w[2]) || w[2] == "*") return fail("bad zone name '" + w[2] + "'");
      if (!p.zone_of.emplace(*bdf, w[2]).second) return fail("device " + w[1] + " listed twice");
      zones_named.insert(w[2]);
    } else if (w[0] == "allow" || w[0] == "deny") {
      const bool allow = w[0] == "allow";
      if (w.size() != (allow ? 4u : 3u)) {
        return fail(allow ? "expected: allow ZONE FIRST-LAST R|W|RW"
                          : "expected: deny ZONE|* FIRST-LAST");
      }
      if (!(valid_zone(w[1]) || (!allow && w[1] == "*")))
        return fail("bad zone name '" + w[1] + "'");
      Range r;
      std::string why;
      if (!parse_range(w[2], r, why)) return fail(why);
      if (allow && !parse_perms(w[3], r.perms))
        return fail("bad permission '" + w[3] + "' (R, W or RW)");
      (allow ? p.allow : p.deny)[w[1]].push_back(r);
    } else {
      return fail("unknown directive '" + w[0] + "' (device, allow, deny)");
    }
  }
  for (auto* m : {&p.allow, &p.deny}) {
    for (auto& [zone, ranges] : *m) {
      if (zone != "*" && !zones_named.contains(zone)) {
        error = "zone '" + zone + "' has ranges but no device";
        return std::nullopt;
      }
      ranges = normalize(std::move(ranges));
    }
  }
  return p;
}

void check_policy(const Policy& policy, Report& report) {
  report.has_policy = true;
  std::map<std::uint16_t, std::vector<Range>> reach;  // what each device can really reach
  for (const auto& d : report.devices) {
    reach[d.bdf] = d.pass_through || d.bypasses_iommu ? all_memory(report.haw) : d.reach;
  }
  for (const auto& p : report.platform_devices) {
    const bool known = (p.flags & snapshot::kDeviceBdfKnown) != 0;
    if (known && (p.flags & snapshot::kDeviceBypass) != 0) reach[p.bdf] = all_memory(report.haw);
  }
  const auto did_of = [&](std::uint16_t bdf) -> std::optional<std::uint16_t> {
    for (const auto& d : report.devices) {
      if (d.bdf == bdf) return d.did;
    }
    return std::nullopt;
  };
  for (const auto& [bdf, r] : reach) {
    const auto zone = policy.zone_of.find(bdf);
    if (zone == policy.zone_of.end()) {
      Violation v{ViolationKind::kPolicyUnlisted,
                  "device " + bdf_name(bdf) + " is attached but the policy names no zone for it"};
      v.bdf = bdf;
      report.violations.push_back(std::move(v));
      continue;
    }
    std::vector<Range> bad;
    if (const auto a = policy.allow.find(zone->second); a != policy.allow.end()) {
      bad = excess(r, a->second);
    }
    for (const char* z : {"*", zone->second.c_str()}) {
      if (const auto dn = policy.deny.find(z); dn != policy.deny.end()) {
        const auto in_deny = excess(r, excess(r, dn->second));  // r restricted to the denied pages
        bad.insert(bad.end(), in_deny.begin(), in_deny.end());
      }
    }
    bad = normalize(std::move(bad));
    if (bad.empty()) continue;
    Violation v{ViolationKind::kPolicyReach, "device " + bdf_name(bdf) + " (zone " + zone->second +
                                                 ") reaches " + std::to_string(page_count(bad)) +
                                                 " page(s) its zone may not"};
    v.bdf = bdf;
    if (const auto did = did_of(bdf)) v.dids = {*did};
    v.ranges = std::move(bad);
    report.violations.push_back(std::move(v));
  }
  // Two zones meeting: in one domain, or on a page one of them may write.
  for (auto a = reach.begin(); a != reach.end(); ++a) {
    for (auto b = std::next(a); b != reach.end(); ++b) {
      const auto za = policy.zone_of.find(a->first), zb = policy.zone_of.find(b->first);
      if (za == policy.zone_of.end() || zb == policy.zone_of.end() || za->second == zb->second)
        continue;
      const auto da = did_of(a->first), db = did_of(b->first);
      const bool same_domain = da && db && *da == *db;
      std::vector<Range> shared;
      for (const auto& o : overlap(a->second, b->second)) {
        if ((o.perms & kWrite) != 0) shared.push_back(o);
      }
      if (!same_domain && shared.empty()) continue;
      Violation v{ViolationKind::kPolicyZoneMix,
                  "devices " + bdf_name(a->first) + " (zone " + za->second + ") and " +
                      bdf_name(b->first) + " (zone " + zb->second + ") " +
                      (same_domain ? "share domain DID " + std::to_string(*da)
                                   : "share " + std::to_string(page_count(shared)) +
                                         " page(s) one of them can write")};
      if (same_domain) v.dids = {*da};
      v.ranges = std::move(shared);
      report.violations.push_back(std::move(v));
    }
  }
}

}  // namespace kniommu::audit
