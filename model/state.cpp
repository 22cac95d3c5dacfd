// State construction, queries, the shared handle/refcount helpers, printing and hashing.
#include <algorithm>
#include <functional>

#include "model/internal.h"

namespace kniommu::model {

State initial_state(Config config) {
  State s;
  s.config = std::move(config);
  return s;
}

bool device_known(const State& s, Bdf bdf) {
  const auto& d = s.config.devices;
  return std::find(d.begin(), d.end(), bdf) != d.end();
}

std::optional<DomainSerial> attachment(const State& s, Bdf bdf) {
  for (const auto& [id, dom] : s.domains) {
    if (dom.devices.count(bdf) != 0) {
      return id;
    }
  }
  return std::nullopt;
}

bool process_alive(const State& s, Pid pid) { return detail::live_process(s, pid) != nullptr; }

const HandleEntry* lookup_handle(const State& s, Pid pid, Handle h) {
  const auto p = s.processes.find(pid);
  if (p == s.processes.end()) {
    return nullptr;
  }
  const auto e = p->second.handles.find(h);
  return e == p->second.handles.end() ? nullptr : &e->second;
}

size_t live_domain_count(const State& s) { return s.domains.size(); }

bool valid_iova(const State& s, std::optional<DomainSerial> domain, uint64_t iova, uint64_t pages) {
  if (iova % kPageSize != 0 || pages == 0) {
    return false;
  }
  if (!s.config.iommu_enabled) {
    return true;  // IOVA = physical address: the allocator, not the model, owns it
  }
  const uint64_t limit_pages = uint64_t{1} << (s.config.address_width - 12);
  const uint64_t first = iova / kPageSize;
  if (first >= limit_pages || pages > limit_pages - first) {
    return false;
  }
  for (const auto& [id, g] : s.grants) {
    if (g.domain == domain) {
      const uint64_t gfirst = g.iova / kPageSize;
      if (first < gfirst + g.pages && gfirst < first + pages) {
        return false;
      }
    }
  }
  return true;
}

namespace detail {

Process* live_process(State& s, Pid pid) {
  const auto p = s.processes.find(pid);
  return p != s.processes.end() && p->second.alive ? &p->second : nullptr;
}

const Process* live_process(const State& s, Pid pid) {
  const auto p = s.processes.find(pid);
  return p != s.processes.end() && p->second.alive ? &p->second : nullptr;
}

Retcode resolve(const Process& p, Handle h, std::initializer_list<Kind> kinds,
                const HandleEntry** out) {
  const auto e = p.handles.find(h);
  if (e == p.handles.end()) {
    return rcInvalidArgument;
  }
  if (e->second.revoked) {
    return rcHandleRevoked;
  }
  if (std::find(kinds.begin(), kinds.end(), e->second.kind) == kinds.end()) {
    return rcInvalidArgument;
  }
  *out = &e->second;
  return rcOk;
}

Handle add_handle(Process& p, HandleEntry entry) {
  Handle h = 1;
  for (const auto& [used, e] : p.handles) {  // ordered: the first gap is the smallest free
    if (used != h) {
      break;
    }
    ++h;
  }
  p.handles.emplace(h, entry);
  return h;
}

const Grant* find_grant(const State& s, BufferId b, std::optional<DomainSerial> domain) {
  for (const auto& [id, g] : s.grants) {
    if (g.buffer == b && g.domain == domain) {
      return &g;
    }
  }
  return nullptr;
}

void release_if_unreferenced(State& s, BufferId b) {
  for (const auto& [pid, p] : s.processes) {
    for (const auto& [h, e] : p.handles) {
      if (e.kind == Kind::Buffer && e.object == b) {
        return;
      }
    }
  }
  for (const auto& [id, g] : s.grants) {
    if (g.buffer == b) {
      return;
    }
  }
  for (const auto& [id, m] : s.mappings) {
    if (m.buffer == b) {
      return;
    }
  }
  s.buffers.erase(b);
}

void destroy_domain(State& s, DomainSerial d) {
  const auto dom = s.domains.find(d);
  if (dom == s.domains.end()) {
    return;
  }
  const Pid owner = dom->second.owner;
  std::vector<BufferId> touched;
  for (auto g = s.grants.begin(); g != s.grants.end();) {
    if (g->second.domain != d || kSeededBug) {
      ++g;
      continue;
    }
    for (auto& [pid, p] : s.processes) {
      for (auto& [h, e] : p.handles) {
        if (e.kind == Kind::Grant && e.object == g->first) {
          e.revoked = true;
        }
      }
    }
    touched.push_back(g->second.buffer);
    g = s.grants.erase(g);
  }
  s.domains.erase(dom);  // its device set goes with it: every device is detached
  auto& p = s.processes.at(owner);
  if (p.auto_domain == d) {
    p.auto_domain.reset();
  }
  for (const BufferId b : touched) {
    release_if_unreferenced(s, b);
  }
}

}  // namespace detail

// ---- Printing and hashing ------------------------------------------------------------------

std::string retcode_name(Retcode rc) { return KnRetcodeName(rc); }

std::ostream& operator<<(std::ostream& os, Kind k) {
  switch (k) {
    case Kind::Domain:
      return os << "Domain";
    case Kind::Buffer:
      return os << "Buffer";
    case Kind::Grant:
      return os << "Grant";
    case Kind::Mapping:
      return os << "Mapping";
  }
  return os << "?";
}

namespace {
void print_domain_ref(std::ostream& os, std::optional<DomainSerial> d) {
  if (d) {
    os << "D" << *d;
  } else {
    os << "(none)";
  }
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const State& s) {
  for (const auto& [pid, p] : s.processes) {
    os << "  process " << pid << (p.alive ? "" : " (exited)") << " auto=";
    print_domain_ref(os, p.auto_domain);
    os << " handles {";
    for (const auto& [h, e] : p.handles) {
      os << " " << h << ":" << e.kind << e.object << (e.revoked ? "(revoked)" : "");
    }
    os << " }\n";
  }
  for (const auto& [id, d] : s.domains) {
    os << "  domain D" << id << " owner=" << d.owner << (d.automatic ? " automatic" : " created")
       << " devices {";
    for (const Bdf b : d.devices) {
      os << " 0x" << std::hex << b << std::dec;
    }
    os << " }\n";
  }
  for (const auto& [id, b] : s.buffers) {
    os << "  buffer B" << id << " creator=" << b.creator << " flags=0x" << std::hex << b.flags
       << std::dec << " order=" << b.order << " size=" << b.size << " blocks=" << b.blocks << "\n";
  }
  for (const auto& [id, g] : s.grants) {
    os << "  grant G" << id << " B" << g.buffer << " in ";
    print_domain_ref(os, g.domain);
    os << " iova=0x" << std::hex << g.iova << std::dec << " pages=" << g.pages << "\n";
  }
  for (const auto& [id, m] : s.mappings) {
    os << "  mapping M" << id << " B" << m.buffer << " offset=" << m.offset
       << " length=" << m.length << " vmflags=" << m.vmflags << "\n";
  }
  return os;
}

namespace {
// boost::hash_combine's mixing step.
void mix(size_t& seed, uint64_t v) {
  seed ^= std::hash<uint64_t>{}(v) + 0x9e3779b97f4a7c15ull + (seed << 6) + (seed >> 2);
}
}  // namespace

size_t StateHash::operator()(const State& s) const {
  size_t h = 0;
  for (const auto& [pid, p] : s.processes) {
    mix(h, pid);
    mix(h, (p.alive ? 1u : 0u) | (p.attached_once ? 2u : 0u));
    mix(h, p.auto_domain.value_or(0));
    for (const auto& [hv, e] : p.handles) {
      mix(h, (uint64_t{hv} << 32) | (uint64_t{e.object} << 3) |
                 (static_cast<uint64_t>(e.kind) << 1) | (e.revoked ? 1u : 0u));
    }
  }
  for (const auto& [id, d] : s.domains) {
    mix(h, (uint64_t{id} << 32) | d.owner);
    for (const Bdf b : d.devices) {
      mix(h, b);
    }
  }
  for (const auto& [id, b] : s.buffers) {
    mix(h, (uint64_t{id} << 32) | b.flags);
    mix(h, b.size ^ (uint64_t{b.order} << 58));
  }
  for (const auto& [id, g] : s.grants) {
    mix(h, (uint64_t{id} << 32) | g.buffer);
    mix(h, g.iova ^ g.domain.value_or(0));
  }
  for (const auto& [id, m] : s.mappings) {
    mix(h, (uint64_t{id} << 32) | m.buffer);
    mix(h, m.offset ^ (m.length << 20));
  }
  mix(h, s.next_pid);
  mix(h, s.next_domain);
  mix(h, s.next_buffer);
  mix(h, s.next_grant);
  mix(h, s.next_mapping);
  return h;
}

}  // namespace kniommu::model
