#include "analysis/analysis.h"

#include <algorithm>
#include <map>
#include <set>

#include "analysis/findings.h"
#include "analysis/names.h"
#include "analysis/policy.h"
#include "analysis/table_walk.h"

namespace kniommu::audit {
namespace {

std::string describe_principal(const Report& report, std::uint32_t id) {
  for (const auto& p : report.processes) {
    if (p.pid == id)
      return "process " + std::to_string(id) + (p.name.empty() ? "" : " (" + p.name + ")");
  }
  return "process " + std::to_string(id);
}

std::vector<Range> with_perms(const std::vector<Range>& ranges, std::uint8_t perms) {
  std::vector<Range> out = ranges;
  for (auto& r : out) r.perms = perms;
  return normalize(std::move(out));
}

std::vector<Range> only_writable(const std::vector<Range>& ranges) {
  std::vector<Range> out;
  for (const auto& r : ranges) {
    if ((r.perms & kWrite) != 0) out.push_back(r);
  }
  return out;
}

class Analyzer {
 public:
  Analyzer(const snapshot::Snapshot& s, const Options& o) : snapshot_(s), policy_(o.policy) {
    report_.regs = s.regs;
    // A snapshot's CAP may claim any MGAW; widths outside 12..64 bits make no sense as HAW.
    report_.haw = std::clamp(o.haw != 0 ? o.haw : default_haw(s.regs), 12u, 64u);
    report_.has_metadata = s.has_metadata();
    report_.domains = s.domains;
    report_.buffers = s.buffers;
    report_.platform_devices = s.devices;
  }

  Report run() {
    SnapshotPages pages(snapshot_);
    walk_ = walk_tables(snapshot_.regs, pages, report_.haw);
    report_.translation_enabled = walk_.translation_enabled;
    report_.root_table = walk_.root_table;
    report_.structure_pages = walk_.structure_pages.size();
    report_.violations = walk_.findings;
    devices();
    processes();
    tables_shared_between_domains();
    did_conflicts();
    devices_reaching_tables();
    if (report_.has_metadata) owners_and_buffers();
    shared_writable();
    add_findings(report_);
    if (policy_ != nullptr) check_policy(*policy_, report_);
    return std::move(report_);
  }

 private:
  void add(Violation v) { report_.violations.push_back(std::move(v)); }

  void devices() {
    std::map<std::uint16_t, const snapshot::Domain*> owners;
    for (const auto& d : snapshot_.domains) owners[d.did] = &d;
    const std::uint64_t all_pages =
        report_.haw >= 64 ? (std::uint64_t{1} << 52) : (std::uint64_t{1} << (report_.haw - 12));
    for (const auto& c : walk_.contexts) {
      DeviceReport d{c.bdf, c.did, c.levels, c.pass_through, {}, {}, {}, {}, false, {}, false};
      if (const auto it = owners.find(c.did); it != owners.end()) {
        d.owner = it->second->pid;
        d.kind = it->second->kind;
      }
      if (c.pass_through) {
        d.reach = {{0, all_pages, kRead | kWrite}};
        Violation v{
            ViolationKind::kPassThrough,
            "device " + bdf_name(c.bdf) + " is in pass-through mode: it reaches all memory"};
        v.bdf = c.bdf;
        v.dids = {c.did};
        add(std::move(v));
      } else if (const auto t = walk_.trees.find({c.slptptr, c.levels}); t != walk_.trees.end()) {
        d.reach = t->second.reach;
        d.mappings = t->second.mappings;
        d.mappings_truncated = t->second.mappings_truncated;
      }
      report_.devices.push_back(std::move(d));
    }
    std::set<std::uint64_t> sl_pages;
    for (const auto& [key, tree] : walk_.trees)
      sl_pages.insert(tree.table_pages.begin(), tree.table_pages.end());
    report_.sl_table_pages = sl_pages.size();
  }

  void processes() {
    for (const auto& p : snapshot_.processes) {
      ProcessReport r{p.pid, p.name, {}, {}, {}, {}};
      for (const auto& d : snapshot_.domains) {
        if (d.pid == p.pid) r.dids.push_back(d.did);
      }
      std::vector<Range> reach;
      for (const auto& d : report_.devices) {
        if (d.owner == p.pid) {
          r.devices.push_back(d.bdf);
          reach.insert(reach.end(), d.reach.begin(), d.reach.end());
        }
      }
      r.reach = normalize(std::move(reach));
      std::vector<Range> buffers;
      for (const auto& b : snapshot_.buffers) {
        if (b.pid != p.pid) continue;
        for (const auto& range : b.ranges) buffers.push_back({range.pa, range.pages, b.perms});
      }
      r.buffers = normalize(std::move(buffers));
      report_.processes.push_back(std::move(r));
    }
  }

  // The DIDs whose walks visit each second-level table page.
  void tables_shared_between_domains() {
    std::map<std::uint64_t, std::set<std::uint16_t>> users;
    for (const auto& c : walk_.contexts) {
      const auto t = walk_.trees.find({c.slptptr, c.levels});
      if (t == walk_.trees.end()) continue;
      for (const auto pa : t->second.table_pages) users[pa].insert(c.did);
    }
    for (const auto& [pa, dids] : users) {
      if (dids.size() < 2) continue;
      Violation v{ViolationKind::kSharedTablePage, "second-level table page " + hex(pa) +
                                                       " is reachable from " +
                                                       std::to_string(dids.size()) + " domains"};
      v.pa = pa;
      v.dids.assign(dids.begin(), dids.end());
      add(std::move(v));
    }
  }

  void did_conflicts() {
    std::map<std::uint16_t, std::set<std::pair<std::uint64_t, unsigned>>> roots;
    for (const auto& c : walk_.contexts) {
      if (!c.pass_through) roots[c.did].insert({c.slptptr, c.levels});
    }
    for (const auto& [did, set] : roots) {
      if (set.size() < 2) continue;
      Violation v{ViolationKind::kDidConflict,
                  "DID " + std::to_string(did) + " is used with " + std::to_string(set.size()) +
                      " different page-table roots (IOTLB entries tagged with it would mix)"};
      v.dids = {did};
      add(std::move(v));
    }
  }

  void devices_reaching_tables() {
    std::vector<Range> tables;
    for (const auto pa : walk_.structure_pages) tables.push_back({pa, 1, kRead | kWrite});
    for (const auto& [key, tree] : walk_.trees) {
      for (const auto pa : tree.table_pages) tables.push_back({pa, 1, kRead | kWrite});
    }
    tables = normalize(std::move(tables));
    for (const auto& d : report_.devices) {
      if (d.pass_through) continue;  // already reported: it reaches everything
      auto hit = excess(d.reach, excess(d.reach, tables));  // d.reach restricted to table pages
      if (hit.empty()) continue;
      Violation v{ViolationKind::kReachesTables, "device " + bdf_name(d.bdf) + " can reach " +
                                                     std::to_string(page_count(hit)) +
                                                     " page(s) holding remapping tables"};
      v.bdf = d.bdf;
      v.dids = {d.did};
      v.ranges = std::move(hit);
      add(std::move(v));
    }
  }

  void owners_and_buffers() {
    std::map<std::uint32_t, const ProcessReport*> by_pid;
    for (const auto& p : report_.processes) by_pid[p.pid] = &p;
    for (const auto& d : report_.devices) {
      if (!d.owner) {
        Violation v{ViolationKind::kUnownedDomain,
                    "device " + bdf_name(d.bdf) + " is attached to DID " + std::to_string(d.did) +
                        ", which no process owns"};
        v.bdf = d.bdf;
        v.dids = {d.did};
        v.ranges = d.reach;
        add(std::move(v));
        continue;
      }
      if (d.pass_through) continue;
      const auto& allowed = by_pid.at(*d.owner)->buffers;
      const auto beyond = excess(d.reach, allowed);
      // Pages in no buffer at all, and pages of a buffer reached with a forbidden direction.
      const auto outside = excess(beyond, with_perms(allowed, kRead | kWrite));
      const auto too_much = excess(beyond, with_perms(outside, kRead | kWrite));
      const std::string who = describe_principal(report_, *d.owner);
      if (!outside.empty()) {
        Violation v{ViolationKind::kOutsideBuffers, "device " + bdf_name(d.bdf) + " reaches " +
                                                        std::to_string(page_count(outside)) +
                                                        " page(s) outside the buffers of " + who};
        v.bdf = d.bdf;
        v.dids = {d.did};
        v.pids = {*d.owner};
        v.ranges = outside;
        add(std::move(v));
      }
      if (!too_much.empty()) {
        Violation v{ViolationKind::kExcessPermission,
                    "device " + bdf_name(d.bdf) +
                        " has more access than the buffer direction allows on " +
                        std::to_string(page_count(too_much)) + " page(s) of " + who};
        v.bdf = d.bdf;
        v.dids = {d.did};
        v.pids = {*d.owner};
        v.ranges = too_much;
        add(std::move(v));
      }
    }
  }

  // Principals are processes when the snapshot has metadata, otherwise domains (the only
  // ownership the hardware itself shows).
  void shared_writable() {
    std::map<std::uint32_t, std::vector<Range>> reach;
    const bool by_process = report_.has_metadata;
    for (const auto& d : report_.devices) {
      if (by_process && !d.owner) continue;
      auto& r = reach[by_process ? *d.owner : d.did];
      r.insert(r.end(), d.reach.begin(), d.reach.end());
    }
    for (auto& [id, r] : reach) r = normalize(std::move(r));
    for (auto a = reach.begin(); a != reach.end(); ++a) {
      for (auto b = std::next(a); b != reach.end(); ++b) {
        auto shared = only_writable(overlap(a->second, b->second));
        if (shared.empty()) continue;
        const std::string who =
            by_process ? describe_principal(report_, a->first) + " and " +
                             describe_principal(report_, b->first)
                       : "domains " + std::to_string(a->first) + " and " + std::to_string(b->first);
        Violation v{ViolationKind::kSharedWritable, "devices of " + who + " share " +
                                                        std::to_string(page_count(shared)) +
                                                        " page(s) that one of them can write"};
        if (by_process) {
          v.pids = {a->first, b->first};
        } else {
          v.dids = {static_cast<std::uint16_t>(a->first), static_cast<std::uint16_t>(b->first)};
        }
        v.ranges = std::move(shared);
        add(std::move(v));
      }
    }
  }

  const snapshot::Snapshot& snapshot_;
  const Policy* policy_;
  TableWalk walk_;
  Report report_;
};

}  // namespace

Report analyze(const snapshot::Snapshot& snapshot, const Options& options) {
  return Analyzer(snapshot, options).run();
}

const char* kind_name(ViolationKind kind) {
  switch (kind) {
    case ViolationKind::kTranslationDisabled:
      return "translation-disabled";
    case ViolationKind::kMissingPage:
      return "missing-page";
    case ViolationKind::kReservedBits:
      return "reserved-bits";
    case ViolationKind::kInvalidEntry:
      return "invalid-entry";
    case ViolationKind::kPassThrough:
      return "pass-through";
    case ViolationKind::kReachesTables:
      return "reaches-tables";
    case ViolationKind::kSharedTablePage:
      return "shared-table-page";
    case ViolationKind::kDidConflict:
      return "did-conflict";
    case ViolationKind::kUnownedDomain:
      return "unowned-domain";
    case ViolationKind::kOutsideBuffers:
      return "outside-buffers";
    case ViolationKind::kExcessPermission:
      return "excess-permission";
    case ViolationKind::kSharedWritable:
      return "shared-writable";
    case ViolationKind::kIommuBypass:
      return "iommu-bypass";
    case ViolationKind::kPolicyUnlisted:
      return "policy-unlisted";
    case ViolationKind::kPolicyReach:
      return "policy-reach";
    case ViolationKind::kPolicyZoneMix:
      return "policy-zone-mix";
    case ViolationKind::kSharedDomain:
      return "shared-domain";
    case ViolationKind::kIdentityMap:
      return "identity-map";
    case ViolationKind::kEmptyDomain:
      return "empty-domain";
    case ViolationKind::kAliasedPages:
      return "aliased-pages";
    case ViolationKind::kReadForced:
      return "read-forced";
    case ViolationKind::kMappingsTruncated:
      return "mappings-truncated";
  }
  return "unknown";
}

}  // namespace kniommu::audit
