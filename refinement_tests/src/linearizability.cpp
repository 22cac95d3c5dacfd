// Linearizability of concurrent API calls. Each history: a fresh system, two processes, 2-3
// threads (two of them may act as the same process, so they race on one handle table) making
// 2-4 calls each, all started together. Every call records when it was invoked and when it
// returned (one global counter). The history is accepted iff some order of model steps that
// respects real time (a returned before b was invoked => a first) reproduces every observed
// Retcode and handle, and the hardware state afterwards refines that order's final model state.
#include <atomic>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

#include "kniommu/adapter.h"  // includes kniommu/dma.h without the pedantic warning
#include "kniommu/conformance.h"
#include "refinement_check.h"
#include "sut.h"

namespace kniommu::conformance {
namespace {

enum class OpKind {
  AttachDevice,
  DetachDevice,
  CreateDomain,
  AttachDeviceToDomain,
  DmaCreate,
  DmaBegin,
  HandleClose
};

struct Op {
  int thread = 0;
  model::Pid pid = 1;
  OpKind kind = OpKind::AttachDevice;
  model::Bdf bdf = 0;
  Handle h = 0, h2 = 0;
  // Observed.
  uint64_t invoked = 0, returned = 0;
  Retcode rc = rcOk;
  Handle out = INVALID_HANDLE;
  uint64_t iova = 0;
};

std::string show(const Op& op) {
  static constexpr const char* kNames[] = {"AttachDevice",         "DetachDevice", "CreateDomain",
                                           "AttachDeviceToDomain", "DmaCreate",    "DmaBegin",
                                           "HandleClose"};
  std::ostringstream os;
  os << "T" << op.thread << " pid=" << op.pid << " " << kNames[static_cast<int>(op.kind)]
     << "(bdf=0x" << std::hex << op.bdf << std::dec << ", h=" << op.h << ", h2=" << op.h2 << ") -> "
     << KnRetcodeName(op.rc) << " out=" << op.out << " [" << op.invoked << "," << op.returned
     << "]";
  return os.str();
}

void execute(Sut& sut, Op& op, std::atomic<uint64_t>& clock) {
  const KnAdapterV1& a = sut.api();
  KnAdapterSession* s = sut.session();
  const KnPid p = sut.impl_pid(op.pid);
  op.invoked = clock.fetch_add(1);
  switch (op.kind) {
    case OpKind::AttachDevice:
      op.rc = a.iommu_attach_device(s, p, op.bdf);
      break;
    case OpKind::DetachDevice:
      op.rc = a.iommu_detach_device(s, p, op.bdf);
      break;
    case OpKind::CreateDomain:
      op.rc = a.iommu_create_domain(s, p, &op.out);
      break;
    case OpKind::AttachDeviceToDomain:
      op.rc = a.iommu_attach_device_to_domain(s, p, op.bdf, op.h);
      break;
    case OpKind::DmaCreate:
      op.rc = a.dma_create(s, p, 0, 2 * kPage, DMA_DIR_BIDIR, &op.out);
      break;
    case OpKind::DmaBegin:
      op.rc = a.dma_begin(s, p, op.h, &op.out);
      if (op.rc == rcOk) {  // only this thread uses this process: the grant handle is stable
        InfoPtr info;
        if (sut.get_info(op.pid, op.out, false, &info) == rcOk && info->count > 0)
          op.iova = static_cast<uint64_t>(info->descriptors[0].frame) << 12;
      }
      break;
    case OpKind::HandleClose:
      op.rc = a.handle_close(s, p, op.h);
      break;
  }
  op.returned = clock.fetch_add(1);
}

model::Result model_step(model::State& s, const Op& op) {
  switch (op.kind) {
    case OpKind::AttachDevice:
      return model::attach_device(s, op.pid, op.bdf);
    case OpKind::DetachDevice:
      return model::detach_device(s, op.pid, op.bdf);
    case OpKind::CreateDomain:
      return model::create_domain(s, op.pid);
    case OpKind::AttachDeviceToDomain:
      return model::attach_device_to_domain(s, op.pid, op.bdf, op.h);
    case OpKind::DmaCreate:
      return model::dma_create(s, op.pid, 0, 2 * kPage, DMA_DIR_BIDIR);
    case OpKind::DmaBegin:
      return model::dma_begin(s, op.pid, op.h, op.iova);
    case OpKind::HandleClose:
      return model::handle_close(s, op.pid, op.h);
  }
  return {};
}

// Physical blocks of the buffers of `s` the harness has not seen yet, through the API.
bool learn_buffers(Sut& sut, const model::State& s) {
  for (const auto& [bid, buf] : s.buffers) {
    if (sut.phys.count(bid)) continue;
    const auto& proc = s.processes.at(buf.creator);
    bool found = false;
    for (const auto& [h, e] : proc.handles) {
      const bool names = (e.kind == model::Kind::Buffer && e.object == bid) ||
                         (e.kind == model::Kind::Grant && !e.revoked && s.grants.count(e.object) &&
                          s.grants.at(e.object).buffer == bid);
      if (!names) continue;
      InfoPtr info;
      if (sut.get_info(buf.creator, h, true, &info) != rcOk || info->count != buf.blocks)
        return false;
      std::vector<PhysBlock> blocks;
      for (size_t i = 0; i < info->count; ++i)
        blocks.push_back(
            PhysBlock{static_cast<uint64_t>(info->descriptors[i].frame) << 12, buf.order});
      sut.phys[bid] = std::move(blocks);
      found = true;
      break;
    }
    if (!found) return false;
  }
  return true;
}

class Search {
 public:
  Search(Sut& sut, std::vector<Op>& ops) : sut_(sut), ops_(ops), done_(ops.size(), false) {}
  bool run(const model::State& s) { return dfs(s, 0); }

 private:
  bool dfs(const model::State& s, size_t placed) {
    if (placed == ops_.size()) return final_state_refines(s);
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (done_[i] || !minimal(i)) continue;
      model::State next = s;
      const model::Result r = model_step(next, ops_[i]);
      if (r.illegal_choice || r.rc != ops_[i].rc) continue;
      if (r.rc == rcOk && r.handle != INVALID_HANDLE && r.handle != ops_[i].out) continue;
      done_[i] = true;
      const bool ok = dfs(next, placed + 1);
      done_[i] = false;
      if (ok) return true;
    }
    return false;
  }
  // Op i may go next iff no pending op returned before i was invoked.
  bool minimal(size_t i) const {
    for (size_t j = 0; j < ops_.size(); ++j)
      if (!done_[j] && j != i && ops_[j].returned < ops_[i].invoked) return false;
    return true;
  }
  bool final_state_refines(const model::State& s) {
    const auto saved = sut_.phys;
    sut_.model = s;
    const bool ok = learn_buffers(sut_, s) && check_refinement(sut_).empty();
    if (!ok) sut_.phys = saved;
    return ok;
  }
  Sut& sut_;
  std::vector<Op>& ops_;
  std::vector<bool> done_;
};

Op random_op(std::mt19937_64& rng, int thread, model::Pid pid, bool may_begin,
             const HwConfig& cfg) {
  auto r = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  Op op;
  op.thread = thread;
  op.pid = pid;
  const int k = r(may_begin ? 7 : 6);
  static constexpr OpKind kKinds[] = {OpKind::AttachDevice, OpKind::DetachDevice,
                                      OpKind::CreateDomain, OpKind::AttachDeviceToDomain,
                                      OpKind::DmaCreate,    OpKind::HandleClose,
                                      OpKind::DmaBegin};
  op.kind = kKinds[k];
  op.bdf = cfg.devices[static_cast<size_t>(r(2))];  // two contended devices
  op.h = 1 + static_cast<Handle>(r(4));
  return op;
}

}  // namespace

std::string check_linearizability(const KnAdapterV1& adapter, const LinearizabilityOptions& opts) {
  const std::optional<HwConfig> cfg = find_config(opts.config);
  if (!cfg) return "unknown configuration " + opts.config;
  std::mt19937_64 rng(opts.seed);
  for (int hist = 0; hist < opts.histories; ++hist) {
    Sut sut(adapter, *cfg, 2);
    if (!sut.ok()) return "cannot set up the system: " + sut.error();
    // Process 2 gets a buffer (handle 1) first, so its Begin calls have something to grant.
    Handle rid = INVALID_HANDLE;
    if (adapter.dma_create(sut.session(), sut.impl_pid(2), 0, 2 * kPage, DMA_DIR_BIDIR, &rid) !=
            rcOk ||
        model::dma_create(sut.model, 2, 0, 2 * kPage, DMA_DIR_BIDIR).rc != rcOk)
      return "setup DmaCreate failed";
    const model::State initial = sut.model;
    const int threads = 2 + static_cast<int>(rng() % 2);
    std::vector<std::vector<Op>> per_thread(static_cast<size_t>(threads));
    for (int t = 0; t < threads; ++t) {
      // Thread 0 is process 1; the last thread is process 2 (the only one that calls Begin);
      // a middle thread shares process 1's handle table with thread 0.
      const bool last = t == threads - 1;
      const model::Pid pid = last ? 2 : 1;
      const int calls = 2 + static_cast<int>(rng() % 3);
      for (int c = 0; c < calls; ++c)
        per_thread[static_cast<size_t>(t)].push_back(random_op(rng, t, pid, last, *cfg));
    }
    std::atomic<uint64_t> clock{0};
    std::atomic<int> ready{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < threads) std::this_thread::yield();
        for (Op& op : per_thread[static_cast<size_t>(t)]) execute(sut, op, clock);
      });
    }
    for (std::thread& w : workers) w.join();
    std::vector<Op> ops;
    for (const auto& v : per_thread) ops.insert(ops.end(), v.begin(), v.end());
    Search search(sut, ops);
    if (!search.run(initial)) {
      std::ostringstream os;
      os << "history " << hist << " (seed " << opts.seed << ", config " << opts.config
         << ") has no linearization that the model and the hardware state explain:\n";
      for (const Op& op : ops) os << "  " << show(op) << "\n";
      return os.str();
    }
  }
  return {};
}

}  // namespace kniommu::conformance
