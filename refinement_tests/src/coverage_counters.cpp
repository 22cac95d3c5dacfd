#include "coverage_counters.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <utility>
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

using Leaf = std::pair<uint64_t, unsigned>;  // iova, level
// Leaves seen by the abstraction walk, per root table: a walk without superpages reports
// thousands of 4 KiB leaves per command, so they are kept as vectors in walk order (ascending
// IOVA) and compared by one merge per root, not as a set of (root, iova, level): set insertion and
// lookup were most of the suite's time (docs/performance.md).
using LeavesByRoot = std::map<uint64_t, std::vector<Leaf>>;

struct CaseState {
  Counts* sink = nullptr;
  uint64_t commands = 0;
  uint64_t queue_base = 0;  // IQA base the tail below refers to
  uint64_t tail = 0;        // descriptor index already seen
  std::string last_call;
  Retcode last_rc = rcOk;
  LeavesByRoot prev_leaves;  // after the previous command (sorted, unique)
  LeavesByRoot leaves;       // this command's walks; a key per root walked, even with no leaf
  uint64_t current_root = 0;
  std::vector<Leaf>* current = nullptr;  // leaves[current_root]
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

// Compares this command's leaves with the previous command's, root by root: leaves new in a
// walked table are mapped; leaves gone from a table still walked (its domain still has a device)
// are unmapped (counted only at a command's end, `unmapped` = true).
void count_leaves(bool unmapped) {
  static const std::vector<Leaf> kNone;
  uint64_t mapped_n[4] = {}, unmapped_n[4] = {};
  for (auto& [root, now] : g.leaves) {
    if (!std::is_sorted(now.begin(), now.end())) std::sort(now.begin(), now.end());
    now.erase(std::unique(now.begin(), now.end()), now.end());
    const auto it = g.prev_leaves.find(root);
    const std::vector<Leaf>& before = it == g.prev_leaves.end() ? kNone : it->second;
    auto a = now.cbegin(), b = before.cbegin();
    while (a != now.cend() || b != before.cend()) {
      if (b == before.cend() || (a != now.cend() && *a < *b)) {
        ++mapped_n[a++->second & 3];
      } else if (a == now.cend() || *b < *a) {
        ++unmapped_n[b++->second & 3];
      } else {
        ++a;
        ++b;
      }
    }
  }
  for (unsigned level = 1; level <= 3; ++level) {
    if (mapped_n[level] != 0 && g.sink != nullptr)
      (*g.sink)[std::string("leaf:mapped:") + leaf_size(level)] += mapped_n[level];
    if (unmapped && unmapped_n[level] != 0 && g.sink != nullptr)
      (*g.sink)[std::string("leaf:unmapped:") + leaf_size(level)] += unmapped_n[level];
  }
}

}  // namespace

void begin_case(Counts* sink) {
  g = CaseState{};
  g.sink = sink;
}

void end_case() {
  if (g.sink != nullptr) count_leaves(false);  // a walk after the last command's end
  g.leaves.clear();
  g.current = nullptr;
  g.sink = nullptr;
}

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
void view_root(uint64_t root) {
  if (g.sink == nullptr) return;
  g.current_root = root;
  g.current = &g.leaves[root];
}

void view_leaf(uint64_t root, uint64_t iova, unsigned level) {
  if (g.sink == nullptr) return;
  if (g.current == nullptr || g.current_root != root) view_root(root);
  g.current->emplace_back(iova, level);
}

void after_command(const Sut& sut, const std::string& command) {
  if (g.sink == nullptr) return;
  ++g.commands;
  if (g_progress != nullptr) *g_progress = g.commands;
  (void)command;
  read_queue(sut);
  count_leaves(true);
  g.prev_leaves = std::move(g.leaves);
  g.leaves.clear();
  g.current = nullptr;
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
