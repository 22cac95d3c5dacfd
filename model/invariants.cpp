// check_invariants: the invariants of spec/KnIommu.tla over the model's state, with the same
// names (spec/README.md says each in one sentence).
#include <algorithm>

#include "model/internal.h"

namespace kniommu::model {

namespace {

using Check = bool (*)(const State&);

// Whether the sorted `v` holds some value twice.
template <class T>
bool has_duplicate(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  return std::adjacent_find(v.begin(), v.end()) != v.end();
}

template <class F>
bool all_handles(const State& s, F f) {
  for (const auto& [pid, p] : s.processes) {
    for (const auto& [h, e] : p.handles) {
      if (!f(pid, p, h, e)) {
        return false;
      }
    }
  }
  return true;
}

bool attachment_unique(const State& s) {
  std::vector<Bdf> attached;
  for (const auto& [id, d] : s.domains) {
    attached.insert(attached.end(), d.devices.begin(), d.devices.end());
  }
  return !has_duplicate(attached);
}

bool attachment_valid(const State& s) {
  for (const auto& [id, d] : s.domains) {
    for (const Bdf b : d.devices) {
      if (!s.config.iommu_enabled || !device_known(s, b)) {
        return false;
      }
    }
  }
  return true;
}

// Every domain has exactly one owner, a live process; an automatic domain is its owner's.
bool domain_owner(const State& s) {
  for (const auto& [id, d] : s.domains) {
    const Process* p = detail::live_process(s, d.owner);
    if (p == nullptr || d.automatic != (p->auto_domain == id)) {
      return false;
    }
  }
  return true;
}

bool auto_domain_unique(const State& s) {
  std::vector<Pid> owners;  // of automatic domains
  for (const auto& [id, d] : s.domains) {
    if (d.automatic) {
      owners.push_back(d.owner);
    }
  }
  return !has_duplicate(owners);
}

// The automatic domain exists exactly while the process is alive after its first attach.
bool auto_domain_lifetime(const State& s) {
  for (const auto& [pid, p] : s.processes) {
    const bool should = p.alive && p.attached_once;
    if (should != (p.auto_domain.has_value() && s.domains.count(*p.auto_domain) != 0)) {
      return false;
    }
  }
  return true;
}

bool domain_capacity(const State& s) { return live_domain_count(s) <= s.config.max_domains; }

bool handle_refs_live(const State& s) {
  return all_handles(s, [&](Pid, const Process&, Handle h, const HandleEntry& e) {
    if (h == 0 || h == kInvalidHandle) {
      return false;
    }
    if (e.revoked) {
      return e.kind == Kind::Grant && s.grants.count(e.object) == 0;
    }
    switch (e.kind) {
      case Kind::Domain: {
        const auto d = s.domains.find(e.object);
        return d != s.domains.end() && !d->second.automatic;
      }
      case Kind::Buffer:
        return s.buffers.count(e.object) != 0;
      case Kind::Grant:
        return s.grants.count(e.object) != 0;
      case Kind::Mapping:
        return s.mappings.count(e.object) != 0;
    }
    return false;
  });
}

bool grant_refs_live(const State& s) {
  for (const auto& [id, g] : s.grants) {
    const auto b = s.buffers.find(g.buffer);
    if (b == s.buffers.end() || g.pages != b->second.footprint_pages() ||
        (g.domain && s.domains.count(*g.domain) == 0) || (!g.domain && s.config.iommu_enabled)) {
      return false;
    }
  }
  for (const auto& [id, m] : s.mappings) {
    if (s.buffers.count(m.buffer) == 0) {
      return false;
    }
  }
  return true;
}

// Grants of one domain: one per buffer, disjoint IOVA ranges, below 2^address_width.
bool grants_disjoint(const State& s) {
  for (auto a = s.grants.begin(); a != s.grants.end(); ++a) {
    for (auto b = std::next(a); b != s.grants.end(); ++b) {
      if (!s.config.iommu_enabled || a->second.domain != b->second.domain) {
        continue;
      }
      const uint64_t a0 = a->second.iova / kPageSize;
      const uint64_t b0 = b->second.iova / kPageSize;
      if (a->second.buffer == b->second.buffer ||
          (a0 < b0 + b->second.pages && b0 < a0 + a->second.pages)) {
        return false;
      }
    }
  }
  return true;
}

bool grant_in_range(const State& s) {
  if (!s.config.iommu_enabled) {
    return true;
  }
  const uint64_t limit_pages = uint64_t{1} << (s.config.address_width - 12);
  for (const auto& [id, g] : s.grants) {
    const uint64_t first = g.iova / kPageSize;
    if (g.iova % kPageSize != 0 || first >= limit_pages || g.pages > limit_pages - first) {
      return false;
    }
  }
  return true;
}

// No leak: every buffer is referenced by a handle, a grant or a mapping.
bool buffer_referenced(const State& s) {
  // Every reference once, sorted: one pass over handles, grants and mappings, not one per buffer.
  std::vector<BufferId> referenced;
  all_handles(s, [&](Pid, const Process&, Handle, const HandleEntry& e) {
    if (e.kind == Kind::Buffer && !e.revoked) {
      referenced.push_back(e.object);
    }
    return true;
  });
  for (const auto& [gid, g] : s.grants) {
    referenced.push_back(g.buffer);
  }
  for (const auto& [mid, m] : s.mappings) {
    referenced.push_back(m.buffer);
  }
  std::sort(referenced.begin(), referenced.end());
  for (const auto& [id, b] : s.buffers) {
    if (!std::binary_search(referenced.begin(), referenced.end(), id)) {
      return false;
    }
  }
  return true;
}

// Checks can_access against the relation it must implement, at the first and last page of every
// grant and at the pages just outside it: a device reaches a page only of a buffer granted to its
// current domain, in a permitted direction, created by the domain's owner. Both directions of a
// page come from one access_both, of which can_access returns one.
bool isolation(const State& s) {
  if (!s.config.iommu_enabled) {
    return true;
  }
  std::vector<uint64_t> probes;
  for (const auto& [id, g] : s.grants) {
    const uint64_t first = g.iova / kPageSize;
    if (first > 0) {
      probes.push_back(first - 1);
    }
    probes.push_back(first);
    probes.push_back(first + g.pages - 1);
    probes.push_back(first + g.pages);
  }
  // Adjacent grants share probe pages (one's end is the next one's start): each page once, as
  // can_access gives a page the same answer every time.
  std::sort(probes.begin(), probes.end());
  probes.erase(std::unique(probes.begin(), probes.end()), probes.end());
  for (const Bdf bdf : s.config.devices) {
    const std::optional<DomainSerial> dom = attachment(s, bdf);
    for (const uint64_t page : probes) {
      const detail::AccessPair both = detail::access_both(s, bdf, page * kPageSize);
      for (const Dir dir : {Dir::Read, Dir::Write}) {
        const Access& a = dir == Dir::Read ? both.read : both.write;
        if (!a.allowed) {
          continue;
        }
        if (!dom || a.untranslated) {
          return false;
        }
        const Grant* g = detail::find_grant(s, a.buffer, dom);
        const auto b = s.buffers.find(a.buffer);
        const uint32_t need = dir == Dir::Read ? 0x1 : 0x2;
        if (g == nullptr || b == s.buffers.end() || (b->second.flags & need) == 0 ||
            b->second.creator != s.domains.at(*dom).owner || page != g->iova / kPageSize + a.page ||
            a.page >= g->pages) {
          return false;
        }
      }
    }
  }
  return true;
}

// Every grant is named by exactly one unrevoked handle of a live process, every created domain by
// exactly one domain handle, and a revoked handle names no live grant. (The spec's NoStaleAccess
// is about its hardware view, which the model does not have: the refinement suite checks it.)
bool object_named_once(const State& s) {
  // The objects the names name, one entry per name, sorted: a count is the length of a range.
  std::vector<GrantId> grant_names;
  std::vector<DomainSerial> domain_names;
  for (const auto& [pid, p] : s.processes) {
    for (const auto& [h, e] : p.handles) {
      if (e.revoked && s.grants.count(e.object) != 0) {
        return false;
      }
      if (!p.alive || e.revoked) {
        continue;
      }
      if (e.kind == Kind::Grant) {
        grant_names.push_back(e.object);
      } else if (e.kind == Kind::Domain) {
        domain_names.push_back(e.object);
      }
    }
  }
  std::sort(grant_names.begin(), grant_names.end());
  std::sort(domain_names.begin(), domain_names.end());
  const auto named_once = [](const std::vector<uint32_t>& names, uint32_t id) {
    const auto [lo, hi] = std::equal_range(names.begin(), names.end(), id);
    return hi - lo == 1;
  };
  for (const auto& [id, g] : s.grants) {
    if (!named_once(grant_names, id)) {
      return false;
    }
  }
  for (const auto& [id, d] : s.domains) {
    if (!d.automatic && !named_once(domain_names, id)) {
      return false;
    }
  }
  return true;
}

bool exited_unreachable(const State& s) {
  for (const auto& [pid, p] : s.processes) {
    if (p.alive) {
      continue;
    }
    if (!p.handles.empty() || p.auto_domain) {
      return false;
    }
    for (const auto& [id, d] : s.domains) {
      if (d.owner == pid) {
        return false;
      }
    }
    for (const auto& [id, b] : s.buffers) {
      if (b.creator == pid) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

std::vector<std::string> check_invariants(const State& s) {
  static constexpr std::pair<const char*, Check> kInvariants[] = {
      {"AttachmentUnique", attachment_unique},
      {"AttachmentValid", attachment_valid},
      {"DomainOwner", domain_owner},
      {"AutoDomainUnique", auto_domain_unique},
      {"AutoDomainLifetime", auto_domain_lifetime},
      {"DomainCapacity", domain_capacity},
      {"HandleRefsLive", handle_refs_live},
      {"GrantRefsLive", grant_refs_live},
      {"GrantsDisjoint", grants_disjoint},
      {"GrantInRange", grant_in_range},
      {"BufferReferenced", buffer_referenced},
      {"Isolation", isolation},
      {"ObjectNamedOnce", object_named_once},
      {"ExitedUnreachable", exited_unreachable},
  };
  std::vector<std::string> violated;
  for (const auto& [name, check] : kInvariants) {
    if (!check(s)) {
      violated.emplace_back(name);
    }
  }
  return violated;
}

}  // namespace kniommu::model
