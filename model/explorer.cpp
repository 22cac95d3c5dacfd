// The exhaustive explorer (see explorer.h).
#include "model/explorer.h"

#include <algorithm>
#include <deque>
#include <map>
#include <sstream>
#include <unordered_set>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"  // dma.h's DmaFrameDescriptor: anonymous struct
#include "kniommu/dma.h"
#pragma GCC diagnostic pop

namespace kniommu::model {

namespace {

// The smallest page-aligned IOVA where `pages` pages fit in `domain` (first fit).
uint64_t first_fit(const State& s, std::optional<DomainSerial> domain, uint64_t pages) {
  std::vector<uint64_t> candidates{0};
  for (const auto& [id, g] : s.grants) {
    if (g.domain == domain) {
      candidates.push_back(g.iova + g.pages * kPageSize);
    }
  }
  std::sort(candidates.begin(), candidates.end());
  for (const uint64_t c : candidates) {
    if (valid_iova(s, domain, c, pages)) {
      return c;
    }
  }
  return 0;  // no room: the model reports the illegal choice
}

uint64_t pages_of(const State& s, Pid pid, Handle rid) {
  const HandleEntry* e = lookup_handle(s, pid, rid);
  if (e == nullptr || e->kind != Kind::Buffer || e->revoked) {
    return 1;  // the call fails before the IOVA matters
  }
  return s.buffers.at(e->object).footprint_pages();
}

std::optional<DomainSerial> domain_of(const State& s, Pid pid, Handle h) {
  const HandleEntry* e = lookup_handle(s, pid, h);
  if (e == nullptr || e->kind != Kind::Domain || e->revoked) {
    return std::nullopt;
  }
  return e->object;
}

// Appends `v` to `key` as a little-endian base-128 varint (compact and unambiguous).
void put(std::string& key, uint64_t v) {
  while (v >= 0x80) {
    key.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  key.push_back(static_cast<char>(v));
}

// Equal keys <=> equal states up to two symmetries that change no step's outcome:
//  - object ids are renamed in order of first appearance (processes by pid, handles by value,
//    then each kind's leftovers by old id);
//  - devices are interchangeable (all are on the bus, none is special), so a domain's attached
//    devices are represented by their number;
//  - processes are renumbered by `pid_of` (new pid of old pid p is pid_of[p - 1]); see
//    canonical_key below for when that is a symmetry.
// New names 1, 2, ... for the ids of one kind, in order of first use.
class Renamer {
 public:
  explicit Renamer(uint32_t next_id) : to_(next_id, 0) {}
  uint32_t operator()(uint32_t id) {
    if (id >= to_.size()) {
      to_.resize(id + 1, 0);
    }
    if (to_[id] == 0) {
      to_[id] = ++count_;
    }
    return to_[id];
  }
  uint32_t count() const { return count_; }

 private:
  std::vector<uint32_t> to_;
  uint32_t count_ = 0;
};

// `objects` (id -> object) listed by their new names.
template <class T>
std::vector<const T*> by_new_name(const std::map<uint32_t, T>& objects, Renamer& rename) {
  for (const auto& [id, o] : objects) {
    rename(id);
  }
  std::vector<const T*> out(rename.count() + 1, nullptr);
  for (const auto& [id, o] : objects) {
    out[rename(id)] = &o;
  }
  return out;
}

std::string key_under(const State& s, const std::vector<Pid>& pid_of) {
  auto pid = [&](Pid p) { return pid_of.at(p - 1); };
  std::vector<const Process*> by_new_pid(s.processes.size() + 1, nullptr);
  for (const auto& [old, p] : s.processes) {
    by_new_pid.at(pid(old)) = &p;
  }
  Renamer dom(s.next_domain);
  Renamer buf(s.next_buffer);
  Renamer grant(s.next_grant);
  Renamer map(s.next_mapping);
  std::string key;
  key.reserve(128);
  for (Pid new_pid = 1; new_pid < by_new_pid.size(); ++new_pid) {
    const Process* p = by_new_pid[new_pid];
    put(key, (p->alive ? 1u : 0u) | (p->attached_once ? 2u : 0u));
    put(key, p->auto_domain ? dom(*p->auto_domain) : 0);
    put(key, p->handles.size());
    for (const auto& [h, e] : p->handles) {
      uint32_t obj = 0;  // a revoked handle names a dead grant; which one no longer matters
      if (!e.revoked) {
        switch (e.kind) {
          case Kind::Domain:
            obj = dom(e.object);
            break;
          case Kind::Buffer:
            obj = buf(e.object);
            break;
          case Kind::Grant:
            obj = grant(e.object);
            break;
          case Kind::Mapping:
            obj = map(e.object);
            break;
        }
      }
      put(key, h);
      put(key, static_cast<uint64_t>(e.kind) * 2 + (e.revoked ? 1 : 0));
      put(key, obj);
    }
  }
  const auto domains = by_new_name(s.domains, dom);
  const auto grants = by_new_name(s.grants, grant);
  const auto mappings = by_new_name(s.mappings, map);
  // Buffers are named last, through what refers to them, in the new names' order.
  for (const Grant* g : grants) {
    if (g != nullptr) {
      buf(g->buffer);
    }
  }
  for (const Mapping* m : mappings) {
    if (m != nullptr) {
      buf(m->buffer);
    }
  }
  const auto buffers = by_new_name(s.buffers, buf);
  // Objects named through a reference but missing (only in a broken state) encode as 0.
  put(key, domains.size());
  for (const Domain* d : domains) {
    if (d != nullptr) {
      put(key, 1 + pid(d->owner));
      put(key, d->automatic);
      put(key, d->devices.size());
    } else {
      put(key, 0);
    }
  }
  put(key, buffers.size());
  for (const Buffer* b : buffers) {
    if (b != nullptr) {
      put(key, 1 + pid(b->creator));
      put(key, b->flags);
      put(key, b->order);
      put(key, b->size);
    } else {
      put(key, 0);
    }
  }
  put(key, grants.size());
  for (const Grant* g : grants) {
    if (g != nullptr) {
      put(key, buf(g->buffer));
      put(key, g->domain ? dom(*g->domain) : 0);
      put(key, g->iova);
    } else {
      put(key, 0);
    }
  }
  put(key, mappings.size());
  for (const Mapping* m : mappings) {
    if (m != nullptr) {
      put(key, buf(m->buffer));
      put(key, m->offset);
      put(key, m->length);
      put(key, static_cast<uint64_t>(m->vmflags));
    } else {
      put(key, 0);
    }
  }
  return key;
}

// Once every process of the scope exists, no process_create can tell processes apart, so any
// renumbering of pids is a symmetry too: the key is the least over all of them.
std::string canonical_key(const State& s, const ExploreBounds& b) {
  std::vector<Pid> pid_of;
  for (Pid p = 1; p <= s.processes.size(); ++p) {
    pid_of.push_back(p);
  }
  if (s.processes.size() < b.max_processes) {
    return key_under(s, pid_of);
  }
  std::string best = key_under(s, pid_of);
  while (std::next_permutation(pid_of.begin(), pid_of.end())) {
    best = std::min(best, key_under(s, pid_of));
  }
  return best;
}

// The calls worth trying in `s`. Inputs that can only fail the argument checks (unknown BDFs,
// never-issued handles, handles of the wrong kind) are left to the unit tests: they never lead to
// a new state, and trying them would dominate the run time.
std::vector<Action> actions(const State& s, const ExploreBounds& b) {
  using Op = Action::Op;
  std::vector<Action> out;
  if (s.processes.size() < b.max_processes) {
    out.push_back({Op::ProcessCreate});
  }
  size_t created = 0;
  for (const auto& [id, d] : s.domains) {
    created += d.automatic ? 0 : 1;
  }
  for (const auto& [pid, p] : s.processes) {
    if (!p.alive) {
      continue;
    }
    std::vector<Handle> domains;
    std::vector<Handle> buffers;
    for (const auto& [h, e] : p.handles) {
      out.push_back({Op::HandleClose, pid, 0, h});
      if (e.kind == Kind::Domain) {
        domains.push_back(h);
      } else if (e.kind == Kind::Buffer) {
        buffers.push_back(h);
      }
    }
    out.push_back({Op::ProcessExit, pid});
    for (const Bdf bdf : s.config.devices) {
      out.push_back({Op::AttachDevice, pid, bdf});
      out.push_back({Op::DetachDevice, pid, bdf});
      for (const Handle d : domains) {
        out.push_back({Op::AttachDeviceToDomain, pid, bdf, d});
        out.push_back({Op::DetachDeviceFromDomain, pid, bdf, d});
      }
    }
    if (created < b.max_created_domains) {
      out.push_back({Op::CreateDomain, pid});
    }
    if (s.buffers.size() < b.max_buffers) {
      out.push_back({Op::DmaCreate, pid});
      out.push_back({Op::DmaCreateContinuous, pid});
    }
    for (const Handle h : buffers) {
      out.push_back({Op::DmaMap, pid, 0, h});
      out.push_back({Op::DmaBegin, pid, 0, h});
      for (const Handle d : domains) {
        out.push_back({Op::DmaBeginEx, pid, 0, h, d});
      }
    }
  }
  return out;
}

}  // namespace

Result apply(State& s, const Action& a) {
  using Op = Action::Op;
  switch (a.op) {
    case Op::ProcessCreate:
      return process_create(s);
    case Op::ProcessExit:
      return process_exit(s, a.pid);
    case Op::AttachDevice:
      return attach_device(s, a.pid, a.bdf);
    case Op::DetachDevice:
      return detach_device(s, a.pid, a.bdf);
    case Op::CreateDomain:
      return create_domain(s, a.pid);
    case Op::AttachDeviceToDomain:
      return attach_device_to_domain(s, a.pid, a.bdf, a.h1);
    case Op::DetachDeviceFromDomain:
      return detach_device_from_domain(s, a.pid, a.bdf, a.h1);
    // Two buffer shapes: 3 pages in blocks of 2 (footprint 4 pages, both directions), and one
    // page the device may only read.
    case Op::DmaCreate:
      return dma_create(s, a.pid, 1, 3 * kPageSize, DMA_DIR_BIDIR);
    case Op::DmaCreateContinuous:
      return dma_create_continuous(s, a.pid, kPageSize, DMA_DIR_TO_DEVICE);
    case Op::DmaMap:
      return dma_map(s, a.pid, a.h1, 0, kPageSize, VMM_FLAG_READ | VMM_FLAG_WRITE);
    case Op::DmaBegin: {
      const Process& p = s.processes.at(a.pid);
      const std::optional<DomainSerial> d = s.config.iommu_enabled ? p.auto_domain : std::nullopt;
      return dma_begin(s, a.pid, a.h1, first_fit(s, d, pages_of(s, a.pid, a.h1)));
    }
    case Op::DmaBeginEx: {
      const uint64_t iova = first_fit(s, domain_of(s, a.pid, a.h2), pages_of(s, a.pid, a.h1));
      return dma_begin_ex(s, a.pid, a.h1, a.h2, iova);
    }
    case Op::HandleClose:
      return handle_close(s, a.pid, a.h1);
    case Op::DmaGetInfo:
      return dma_get_info(s, a.pid, a.h1);
    case Op::DmaGetPhysInfo:
      return dma_get_phys_info(s, a.pid, a.h1);
  }
  return Result{rcInternalError};
}

std::string describe(const Action& a, const Result& r) {
  using Op = Action::Op;
  static const char* const kNames[] = {"process_create",
                                       "process_exit",
                                       "attach_device",
                                       "detach_device",
                                       "create_domain",
                                       "attach_device_to_domain",
                                       "detach_device_from_domain",
                                       "dma_create",
                                       "dma_create_continuous",
                                       "dma_map",
                                       "dma_begin",
                                       "dma_begin_ex",
                                       "handle_close",
                                       "dma_get_info",
                                       "dma_get_phys_info"};
  std::ostringstream o;
  o << kNames[static_cast<int>(a.op)] << "(";
  if (a.op != Op::ProcessCreate) {
    o << "pid=" << a.pid;
  }
  if (a.op == Op::AttachDevice || a.op == Op::DetachDevice || a.op == Op::AttachDeviceToDomain ||
      a.op == Op::DetachDeviceFromDomain) {
    o << ", bdf=0x" << std::hex << a.bdf << std::dec;
  }
  if (a.op == Op::AttachDeviceToDomain || a.op == Op::DetachDeviceFromDomain ||
      a.op == Op::DmaBeginEx || a.op >= Op::DmaMap) {
    o << ", handle=" << a.h1;
  }
  if (a.op == Op::DmaBeginEx) {
    o << ", domain=" << a.h2;
  }
  o << ") -> " << retcode_name(r.rc);
  if (r.handle != kInvalidHandle) {
    o << " handle " << r.handle;
  }
  if (a.op == Op::ProcessCreate) {
    o << " pid " << r.pid;
  }
  return o.str();
}

ExploreBounds default_bounds() {
  ExploreBounds b;
  b.config.iommu_enabled = true;
  b.config.devices = {0x0008, 0x0010, 0x0100};
  b.config.address_width = 39;
  b.config.max_domains = 3;
  return b;
}

ExploreReport explore(const ExploreBounds& bounds) {
  struct Node {
    size_t parent;
    Action action;
  };
  ExploreReport report;
  report.initial = initial_state(bounds.config);
  std::vector<Node> nodes{{0, Action{}}};  // node 0: the initial state
  std::unordered_set<std::string> seen{canonical_key(report.initial, bounds)};
  std::vector<std::pair<size_t, State>> frontier{{0, report.initial}};

  auto fail_with = [&](size_t node, std::vector<std::string> violated) {
    report.violated = std::move(violated);
    std::vector<Action> path;
    for (size_t n = node; n != 0; n = nodes[n].parent) {
      path.push_back(nodes[n].action);
    }
    State s = report.initial;  // replay: the trace shows the real (unrenamed) ids
    for (auto a = path.rbegin(); a != path.rend(); ++a) {
      const Result r = apply(s, *a);
      report.trace.push_back({describe(*a, r), s});
    }
  };

  if (auto v = check_invariants(report.initial); !v.empty()) {
    fail_with(0, std::move(v));
    return report;
  }
  for (unsigned depth = 1; depth <= bounds.depth && !frontier.empty(); ++depth) {
    std::vector<std::pair<size_t, State>> next;
    for (const auto& [node, state] : frontier) {
      for (const Action& a : actions(state, bounds)) {
        State succ = state;
        const Result r = apply(succ, a);
        if (r.rc != rcOk) {
          if (!(succ == state)) {  // a failing call must change nothing
            nodes.push_back({node, a});
            fail_with(nodes.size() - 1, {"FailedCallChangesNothing"});
            return report;
          }
          continue;
        }
        ++report.transitions;
        if (!seen.insert(canonical_key(succ, bounds)).second) {
          continue;
        }
        nodes.push_back({node, a});
        report.depth_reached = depth;
        if (auto v = check_invariants(succ); !v.empty()) {
          fail_with(nodes.size() - 1, std::move(v));
          report.distinct_states = seen.size();
          return report;
        }
        if (depth < bounds.depth) {  // the last level is never expanded: keep no copy
          next.emplace_back(nodes.size() - 1, std::move(succ));
        }
      }
    }
    frontier = std::move(next);
  }
  report.distinct_states = seen.size();
  return report;
}

}  // namespace kniommu::model
