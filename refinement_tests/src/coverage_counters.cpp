#include "coverage_counters.h"

#include <algorithm>
#include <bit>
#include <sstream>
#include <unordered_set>
#include <vector>

#include "sut.h"

namespace kniommu::conformance::coverage {
namespace {

// Register offsets and queue layout: VT-d spec §10.4.22-24 (IQH/IQT/IQA), §6.5.2 (descriptors).
constexpr uint32_t kRegCap = 0x08;
constexpr uint32_t kRegIqt = 0x88;
constexpr uint32_t kRegIqa = 0x90;
constexpr uint64_t kCapCm = uint64_t{1} << 7;
constexpr uint64_t kIqaDw = uint64_t{1} << 11;  // 256-bit descriptors (scalable mode only)
constexpr size_t kDescBytes = 16;

// The leaves of one table root as the walker saw them, in walk order, which is ascending (a
// depth-first walk over entries 0..511), so two views compare by one merge. A view is a list of
// segments, each a single leaf (a superpage) or all leaves of one last-level table as the
// walker's cache decoded them (shared, immutable): a view that reuses the previous view's
// decodings in the same order has the same leaves, which one comparison of the segment lists
// shows without touching the leaves (a grant of 1 GiB in 4 KiB pages has 262,144 leaves, seen
// after every command).
using Leaf = uint64_t;
constexpr unsigned level_of(Leaf l) { return static_cast<unsigned>(l & 0xFFF); }
constexpr uint64_t kTableSpan = uint64_t{512} << 12;  // IOVA range of a last-level table
struct Segment {
  std::shared_ptr<const TableLeaves> table;  // null: the single leaf `one`
  Leaf one = 0;
  bool operator==(const Segment&) const = default;
  // The IOVA range the segment's leaves lie in: two segments with a leaf in common overlap.
  uint64_t begin() const { return table != nullptr ? table->base : one & ~uint64_t{0xFFF}; }
  uint64_t end() const {
    if (table != nullptr) return table->base + kTableSpan;
    const unsigned level = std::clamp(level_of(one), 1u, 3u);
    return begin() + (uint64_t{1} << (12 + 9 * (level - 1)));
  }
};
struct Leaves {
  std::vector<Segment> segments;
  bool walked = false;  // in the current (or, in prev_leaves, the previous) command's view
};

// Appends the leaves of `s`, ascending.
void append_leaves(const Segment& s, std::vector<Leaf>& out) {
  if (s.table == nullptr) {
    out.push_back(s.one);
    return;
  }
  for (unsigned w = 0; w < 8; ++w)
    for (uint64_t bits = s.table->present[w]; bits != 0; bits &= bits - 1)
      out.push_back(leaf_key(s.table->base + ((uint64_t{w} * 64 + std::countr_zero(bits)) << 12), 1));
}

// The leaves of the segments of `l` that `other` does not share, ascending, without duplicates.
// A shared segment (the same decoding in both views) has the same leaves on both sides, and no
// leaf of a view is in two of its segments (the IOVA ranges of a table walk's entries are
// disjoint), so the leaves one view has and the other lacks are among the unshared segments.
// Only for views whose segments are not ascending and disjoint (see count_changes).
std::vector<Leaf> unshared_leaves(const Leaves& l, const Leaves& other) {
  std::unordered_set<const TableLeaves*> shared;
  for (const Segment& s : other.segments)
    if (s.table != nullptr) shared.insert(s.table.get());
  std::vector<Leaf> v;
  for (const Segment& s : l.segments)
    if (s.table == nullptr || !shared.count(s.table.get())) append_leaves(s, v);
  if (!std::is_sorted(v.begin(), v.end())) std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Per leaf size (index: level 1..3), leaves mapped and unmapped between two views.
struct Changes {
  uint64_t mapped[4] = {0, 0, 0, 0}, unmapped[4] = {0, 0, 0, 0};
};

struct CaseState {
  Counts* sink = nullptr;
  uint64_t commands = 0;
  uint64_t queue_base = 0;  // IQA base the tail below refers to
  uint64_t tail = 0;        // descriptor index already seen
  std::string last_call;
  Retcode last_rc = rcOk;
  std::map<uint64_t, Leaves> prev_leaves, leaves;  // per table root
  Leaves* walking = nullptr;                       // the root's list the walk in progress fills
  std::vector<Leaf> scratch_a, scratch_b;          // count_changes' leaf lists, capacity kept
};

CaseState g;
volatile uint64_t* g_progress = nullptr;

void bump(const std::string& key) {
  if (g.sink != nullptr) ++(*g.sink)[key];
}

const char* leaf_size(unsigned level) {
  switch (level) {
    case 1:
      return "4K";
    case 2:
      return "2M";
    case 3:
      return "1G";
  }
  return "?";
}

// The C API call a command made, from the command's printed form. Commands are named after the
// spec's actions (spec/KnIommu.tla); the coverage keys and docs/semantics.md use the C names.
std::string call_name(const std::string& command) {
  const std::string action = command.substr(0, command.find('('));
  if (action.rfind("Kn", 0) == 0) return action;  // already a C name
  if (action == "HandleClose")
    return command.find("via=KnIoClose") != std::string::npos ? "KnIoClose" : "KnHandleClose";
  if (action.rfind("Dma", 0) == 0 && action != "Dma") return "KnIo" + action;
  if (action == "AttachDevice" || action == "DetachDevice" || action == "CreateDomain" ||
      action == "AttachDeviceToDomain" || action == "DetachDeviceFromDomain")
    return "KnIommu" + action;
  return action;  // harness commands (ProcessCreate, ProcessExit, Dma, VmAccess): no C call
}

bool granting(const std::string& call) {
  return call == "KnIommuAttachDevice" || call == "KnIommuAttachDeviceToDomain" ||
         call == "KnIoDmaBegin" || call == "KnIoDmaBeginEx";
}

// The kind of one 128-bit queued-invalidation descriptor (VT-d spec §6.5.2.1-2.8).
std::string descriptor_kind(uint64_t lo, uint64_t hi) {
  const uint64_t type = lo & 0xF, gran = (lo >> 4) & 0x3;
  static constexpr const char* kCtx[] = {"?", "global", "domain", "device"};
  static constexpr const char* kIotlb[] = {"?", "global", "domain", "page"};
  if (type == 0x1) return std::string("inv:context:") + kCtx[gran];
  if (type == 0x2) {
    if (gran == 3) return "inv:iotlb:page:am=" + std::to_string(hi & 0x3F);
    return std::string("inv:iotlb:") + kIotlb[gran];
  }
  if (type == 0x5) return "inv:wait";
  return "inv:other:type=" + std::to_string(type);
}

// Descriptors submitted since the last look: [tail seen, IQT) of the queue at IQA.
void read_queue(const Sut& sut) {
  const KnAdapterV1& api = sut.api();
  const uint64_t iqa = api.read_reg64(sut.session(), kRegIqa);
  const uint64_t base = iqa & ~uint64_t{0xFFF};
  if (base == 0 || (iqa & kIqaDw) != 0) return;
  const uint64_t entries = uint64_t{256} << (iqa & 0x7);
  const uint64_t tail = (api.read_reg64(sut.session(), kRegIqt) >> 4) & 0x7FFF;
  if (base != g.queue_base) {  // queue (re)programmed: it starts empty at index 0
    g.queue_base = base;
    g.tail = 0;
  }
  const bool cm = (api.read_reg64(sut.session(), kRegCap) & kCapCm) != 0;
  for (uint64_t i = g.tail, n = 0; i % entries != tail % entries && n < entries; ++i, ++n) {
    uint64_t d[2] = {0, 0};
    if (api.phys_read(sut.session(), base + (i % entries) * kDescBytes, d, sizeof d) != rcOk) break;
    const std::string kind = descriptor_kind(d[0], d[1]);
    bump(kind);
    if (cm && g.last_rc == rcOk && granting(g.last_call) && kind.rfind("inv:wait", 0) != 0)
      bump("cm1:" + g.last_call + (kind.rfind("inv:context", 0) == 0 ? ":context" : ":iotlb"));
  }
  g.tail = tail % entries;
}

}  // namespace

void begin_case(Counts* sink) {
  g = CaseState{};
  g.sink = sink;
}

void end_case() { g.sink = nullptr; }

uint64_t commands_in_case() { return g.commands; }

void set_progress_counter(volatile uint64_t* counter) { g_progress = counter; }

void call(const std::string& command, Retcode rc) {
  if (g.sink == nullptr) return;
  g.last_call = call_name(command);
  g.last_rc = rc;
  bump("call:" + g.last_call + ":" + KnRetcodeName(rc));
}

void dma(Retcode rc, bool write, uint8_t fault_reason) {
  if (rc == rcDeviceNotFound) {
    bump("dma:unknown-bdf");
  } else if (rc == rcOk) {
    bump(write ? "dma:ok:write" : "dma:ok:read");
  } else {
    std::ostringstream key;
    key << "dma:fault:0x" << std::hex << static_cast<unsigned>(fault_reason);
    bump(key.str());
  }
}

void process_exit(const model::State& before, model::Pid pid) {
  const auto it = before.processes.find(pid);
  if (it == before.processes.end()) return;
  bool attached = false;
  for (const auto& [id, d] : before.domains)
    if (d.owner == pid && !d.devices.empty()) attached = true;
  const bool live = !it->second.handles.empty() || it->second.auto_domain.has_value();
  bump(live ? "exit:live-objects" : "exit:empty");
  if (attached) bump("exit:attached-devices");
}

// Outside a case (linearizability histories, directed tests) the hooks keep nothing.
// A root walked twice in one command (a DMA probe's view, then the refinement check's) keeps the
// last walk: the table as the command left it.
void view_root(uint64_t root) {
  if (g.sink == nullptr) return;
  g.walking = &g.leaves[root];
  g.walking->segments.clear();  // keeps its capacity: the same roots are walked every command
  g.walking->walked = true;
}

void view_leaf(uint64_t root, uint64_t iova, unsigned level) {
  (void)root;  // the walk in progress (view_root) is of `root`
  if (g.sink == nullptr || g.walking == nullptr) return;
  g.walking->segments.push_back(Segment{nullptr, leaf_key(iova, level)});
}

void view_leaf_table(uint64_t root, const std::shared_ptr<const TableLeaves>& leaves) {
  (void)root;
  if (g.sink == nullptr || g.walking == nullptr || leaves->count == 0) return;
  g.walking->segments.push_back(Segment{leaves, 0});
}

namespace {

// Counts into `n` (by size) every leaf of `a` not in `b` (both sorted).
void count_difference(const std::vector<Leaf>& a, const std::vector<Leaf>& b, uint64_t (&n)[4]) {
  const Leaf* j = b.data();
  const Leaf* const end = j + b.size();
  for (const Leaf l : a) {
    while (j != end && *j < l) ++j;
    if (j == end || *j != l) ++n[std::min(level_of(l), 3u)];
  }
}

// Counts into `n` (by size) every leaf of the segments [first, last) (a view has no leaf twice).
void count_all(const Segment* first, const Segment* last, uint64_t (&n)[4]) {
  for (const Segment* s = first; s != last; ++s) {
    if (s->table == nullptr)
      ++n[std::min(level_of(s->one), 3u)];
    else
      n[1] += s->table->count;  // a last-level table's leaves are 4 KiB
  }
}

// Segments in ascending IOVA order, no two overlapping: what a table walk yields.
bool ascending_disjoint(const std::vector<Segment>& v) {
  for (size_t k = 1; k < v.size(); ++k)
    if (v[k].begin() < v[k - 1].end()) return false;
  return true;
}

// The leaves in `now` and not in `before` (mapped) and the reverse (unmapped), by size, without
// listing the leaves where it can be avoided: both views are walked in one merge over clusters
// of overlapping segments (a leaf both views have lies in one cluster, as its segments overlap);
// a cluster of one side only counts whole, one pair of decodings of the same table slot compares
// their present bits, and any other cluster lists its leaves and merges them.
Changes count_changes(const Leaves& now, const Leaves& before) {
  Changes c;
  const std::vector<Segment>& a = now.segments;
  const std::vector<Segment>& b = before.segments;
  if (!ascending_disjoint(a) || !ascending_disjoint(b)) {  // not a walk's order: sort the leaves
    const std::vector<Leaf> la = unshared_leaves(now, before), lb = unshared_leaves(before, now);
    count_difference(la, lb, c.mapped);
    count_difference(lb, la, c.unmapped);
    return c;
  }
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const size_t i0 = i, j0 = j;
    uint64_t hi = 0;
    if (j == b.size() || (i < a.size() && a[i].begin() <= b[j].begin()))
      hi = a[i++].end();
    else
      hi = b[j++].end();
    for (;;) {
      if (i < a.size() && a[i].begin() < hi) {
        hi = std::max(hi, a[i++].end());
      } else if (j < b.size() && b[j].begin() < hi) {
        hi = std::max(hi, b[j++].end());
      } else {
        break;
      }
    }
    if (j == j0) {
      count_all(a.data() + i0, a.data() + i, c.mapped);
    } else if (i == i0) {
      count_all(b.data() + j0, b.data() + j, c.unmapped);
    } else if (i == i0 + 1 && j == j0 + 1 && a[i0].table != nullptr && b[j0].table != nullptr &&
               a[i0].table->base == b[j0].table->base) {
      if (a[i0].table == b[j0].table) continue;  // the same decoding: the same leaves
      const TableLeaves &ta = *a[i0].table, &tb = *b[j0].table;
      for (unsigned w = 0; w < 8; ++w) {
        c.mapped[1] += static_cast<uint64_t>(std::popcount(ta.present[w] & ~tb.present[w]));
        c.unmapped[1] += static_cast<uint64_t>(std::popcount(tb.present[w] & ~ta.present[w]));
      }
    } else {
      std::vector<Leaf>& la = g.scratch_a;
      std::vector<Leaf>& lb = g.scratch_b;
      la.clear();
      lb.clear();
      for (size_t k = i0; k < i; ++k) append_leaves(a[k], la);
      for (size_t k = j0; k < j; ++k) append_leaves(b[k], lb);
      count_difference(la, lb, c.mapped);
      count_difference(lb, la, c.unmapped);
    }
  }
  return c;
}

void add_counts(const uint64_t (&n)[4], const char* key_prefix) {
  for (unsigned level = 1; level <= 3; ++level)
    if (n[level] != 0) (*g.sink)[std::string(key_prefix) + leaf_size(level)] += n[level];
}

}  // namespace

void after_command(const Sut& sut, const std::string& command) {
  if (g.sink == nullptr) return;
  ++g.commands;
  if (g_progress != nullptr) *g_progress = g.commands;
  (void)command;
  read_queue(sut);
  // A leaf not in the previous command's view of its table: mapped. A leaf of a table still
  // walked (its domain still has a device) that is gone: unmapped. A table not walked now is
  // forgotten (walked again later, all its leaves count as mapped).
  for (auto& [root, now] : g.leaves) {
    if (!now.walked) continue;
    const auto prev = g.prev_leaves.find(root);
    const bool before_walked = prev != g.prev_leaves.end() && prev->second.walked;
    // The common case: the command left the table alone, and the walker reused its decodings.
    if (before_walked && prev->second.segments == now.segments) continue;
    if (!before_walked || prev->second.segments.empty()) {  // a table walked again after a
      uint64_t n[4] = {0, 0, 0, 0};  // command that did not walk it: every leaf counts as mapped
      count_all(now.segments.data(), now.segments.data() + now.segments.size(), n);
      add_counts(n, "leaf:mapped:");
      continue;
    }
    const Changes c = count_changes(now, prev->second);
    add_counts(c.mapped, "leaf:mapped:");
    add_counts(c.unmapped, "leaf:unmapped:");
  }
  // This view becomes the previous one; the lists of the one before are reused (capacity kept,
  // marked not walked) instead of being freed and grown again.
  std::swap(g.prev_leaves, g.leaves);
  for (auto& [root, l] : g.leaves) l.walked = false;
  g.walking = nullptr;
  g.last_call.clear();
}

std::string serialize(const Counts& c) {
  std::ostringstream os;
  for (const auto& [k, v] : c) os << k << ' ' << v << '\n';
  return os.str();
}

bool parse(const std::string& text, Counts& out) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto sp = line.rfind(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == line.size()) return false;
    const std::string num = line.substr(sp + 1);
    if (num.find_first_not_of("0123456789") != std::string::npos || num.size() > 19) return false;
    out[line.substr(0, sp)] += std::stoull(num);
  }
  return true;
}

void add(Counts& into, const Counts& from) {
  for (const auto& [k, v] : from) into[k] += v;
}

}  // namespace kniommu::conformance::coverage
