// The system under test for one RapidCheck case: a fresh simulated machine reached through the
// adapter, the REAL model state (advanced with the implementation's own choices: the IOVA of each
// grant, rcOutOfMemory when frames ran out), and what the harness learnt through API calls (the
// physical blocks of each buffer from KnIoDmaGetPhysInfo, the address of each mapping).
//
// Why two model states: rc::state advances its generation model in apply(), which cannot see the
// implementation, so that copy uses a stand-in IOVA. Commands are generated against it, but every
// check is made against `model` here, which follows the implementation's real choices.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kniommu/adapter.h"
#include "kniommu/conformance.h"
#include "model/model.h"
#include "coverage.h"
#include "fault_log.h"
#include "hw_view.h"
#include "runs.h"

namespace kniommu::conformance {

struct PhysBlock {
  uint64_t pa = 0;
  uint32_t order = 0;
};

// DmaInfo released through the adapter that allocated it.
struct InfoDeleter {
  void (*free_info)(DmaInfo*) = nullptr;
  void operator()(DmaInfo* p) const {
    if (p != nullptr) free_info(p);
  }
};
using InfoPtr = std::unique_ptr<DmaInfo, InfoDeleter>;

class Sut {
 public:
  // Creates the machine and `initial_processes` processes (model pids 1..n). Path-reach counters
  // go to `coverage` (a private one when null).
  Sut(const KnAdapterV1& api, const HwConfig& config, int initial_processes,
      Coverage* coverage = nullptr);
  ~Sut();
  Sut(const Sut&) = delete;
  Sut& operator=(const Sut&) = delete;

  bool ok() const { return session_ != nullptr && error_.empty(); }
  const std::string& error() const { return error_; }

  const KnAdapterV1& api() const { return api_; }
  KnAdapterSession* session() const { return session_; }
  const HwConfig& config() const { return config_; }
  KnPid impl_pid(model::Pid pid) const;

  // GetInfo / GetPhysInfo as process `pid`.
  Retcode get_info(model::Pid pid, Handle h, bool phys, InfoPtr* out) const;

  // Registers a process created on both sides.
  void add_process(model::Pid model_pid, KnPid impl_pid) { pids_[model_pid] = impl_pid; }

  // The real model state (see the file comment).
  model::State model;
  // Physical blocks of every buffer ever created, from KnIoDmaGetPhysInfo at creation.
  std::map<model::BufferId, std::vector<PhysBlock>> phys;
  // Records [pa, pa + bytes) as a block of `buffer`; false when it overlaps a block of another
  // buffer still alive in `model`. Blocks of dead buffers are dropped when a new block overlaps
  // them, so the recorded blocks never overlap and a check costs O(log n), not a scan of every
  // live buffer (a 1 GiB fill makes 1,022 buffers). Adjacent blocks of one buffer are kept as one
  // range.
  bool claim_frames(uint64_t pa, uint64_t bytes, model::BufferId buffer);
  // Simulated virtual address of every mapping.
  std::map<model::MappingId, uint64_t> mapping_va;
  // Last IOVA a grant handle value of a process named: DMA probes reuse it after the grant is
  // closed, its domain detached or its process exited (invalidation-sensitive sequences).
  std::map<std::pair<model::Pid, Handle>, std::pair<uint64_t, uint64_t>> grant_history;
  // The fault recording registers as software expects them (fault_log.h).
  FaultLog faults;
  // Frames in use right after creation beyond the tables the hardware can see (invalidation
  // queue, status words, ...): the fixed overhead the frame-leak check allows.
  int64_t frame_overhead = 0;
  Coverage& coverage() const { return *coverage_; }
  // Tables and leaf-table decodings of this machine's earlier hardware views (hw_view.h): a cache
  // of the suite's own reading, reused at an unchanged frame write generation or after comparing
  // the bytes, and checked against the bytes in memory by the periodic verifying views.
  mutable ViewCache view_cache;
  // The model's expected translations as of the last check, with what they were computed from
  // (refinement_check.cpp).
  struct Expectation {
    bool valid = false;
    std::vector<uint64_t> key, next_key;  // next_key: the one being compared (capacity kept)
    std::map<model::DomainSerial, Runs> runs;
    // Each buffer's blocks as runs of consecutive frames, at offsets from its first byte, for
    // the block order they were cut with (a buffer's blocks never change).
    struct FrameRuns {
      uint32_t order = 0;
      Runs runs;
    };
    std::map<model::BufferId, FrameRuns> frame_runs;
  };
  mutable Expectation expectation;
  // The model state the last check found every invariant to hold in (refinement_check.cpp):
  // the invariants are a function of the state alone, so an equal state needs no second look.
  struct CheckedModel {
    bool valid = false;
    model::State state;
  };
  mutable CheckedModel checked_model;
  // The last cache snapshot (refinement_check.cpp), kept only for its capacity.
  mutable std::vector<KnSimCacheEntry> cache_entries;

 private:
  struct Claim {
    uint64_t end = 0;
    model::BufferId buffer{};
  };
  std::map<uint64_t, Claim> claimed_;  // block start -> end and owner; no two overlap

 public:

  // QEMU judges (docs/qemu-backend.md): its edu devices write only what their 4 KiB buffer holds,
  // filled by their own DMA reads. The suite tracks each buffer: byte value, or -1 unknown
  // (after a faulting read). edu's buffer starts zeroed.
  bool qemu() const { return config_.sim.hardware == KN_SIM_HARDWARE_QEMU; }
  std::vector<int>& device_buffer(uint16_t bdf) {
    auto it = device_buffers_.find(bdf);
    if (it == device_buffers_.end())
      it = device_buffers_.emplace(bdf, std::vector<int>(4096, 0)).first;
    return it->second;
  }

 private:
  const KnAdapterV1& api_;
  HwConfig config_;
  KnAdapterSession* session_ = nullptr;
  std::map<model::Pid, KnPid> pids_;
  std::string error_;
  std::map<uint16_t, std::vector<int>> device_buffers_;
  Coverage own_coverage_;
  Coverage* coverage_ = &own_coverage_;
};

// A check the judging hardware cannot perform: counted by name, reported as skipped.
void count_skip(const std::string& what, uint64_t n = 1);
// The counts since the last call (and resets them).
std::map<std::string, uint64_t> take_skips();

model::Config model_config(const HwConfig& config);

}  // namespace kniommu::conformance
