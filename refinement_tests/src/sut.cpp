#include "sut.h"

#include <algorithm>
#include <iterator>

#include "state_checks.h"

namespace kniommu::conformance {
namespace {
std::map<std::string, uint64_t>& skips() {
  static std::map<std::string, uint64_t> s;  // the suite runs cases on one thread
  return s;
}
}  // namespace

void count_skip(const std::string& what, uint64_t n) { skips()[what] += n; }

std::map<std::string, uint64_t> take_skips() {
  std::map<std::string, uint64_t> out;
  out.swap(skips());
  return out;
}

model::Config model_config(const HwConfig& config) {
  model::Config c;
  c.iommu_enabled = config.sim.iommu_enabled != 0;
  c.devices = config.devices;
  c.address_width = config.sim.mgaw;
  // 2^(4+2*ND) DIDs, DID 0 reserved (with CM=1 hardware tags not-present entries with DID 0;
  // kniommu reserves it on every configuration so the count does not depend on CM).
  c.max_domains = (1u << (4 + 2 * config.sim.nd)) - 1;
  return c;
}

Sut::Sut(const KnAdapterV1& api, const HwConfig& config, int initial_processes,
         Coverage* coverage)
    : model(model::initial_state(model_config(config))), api_(api), config_(config) {
  if (coverage != nullptr) coverage_ = coverage;
  const KnSimConfig sim = config_.make_sim();
  const Retcode rc = api_.system_create(&sim, &session_);
  if (rc != rcOk) {
    session_ = nullptr;
    error_ = std::string("system_create failed: ") + KnRetcodeName(rc);
    return;
  }
  for (int i = 0; i < initial_processes; ++i) {
    KnPid impl = 0;
    const Retcode prc = api_.process_create(session_, &impl);
    const model::Result mr = model::process_create(model);
    if (prc != rcOk || mr.rc != rcOk) {
      error_ = std::string("process_create failed: ") + KnRetcodeName(prc);
      return;
    }
    add_process(mr.pid, impl);
  }
  // On QEMU the backend itself reads and clears the single fault record around each DMA (to
  // report the reason), so the register-level fault check is skipped there (counted).
  faults.init(api_, session_, config_.sim.iommu_enabled != 0 && !qemu());
  frame_overhead = frames_beyond_visible_tables(*this);
}

Sut::~Sut() {
  if (session_ != nullptr) api_.system_destroy(session_);
}

bool Sut::claim_frames(uint64_t pa, uint64_t bytes, model::BufferId buffer) {
  uint64_t start = pa, end = pa + bytes;
  auto it = claimed_.upper_bound(pa);
  if (it != claimed_.begin() && std::prev(it)->second.end > pa) --it;  // starts below, reaches in
  while (it != claimed_.end() && it->first < pa + bytes) {
    if (it->second.buffer != buffer && model.buffers.count(it->second.buffer) != 0) return false;
    if (it->second.buffer == buffer) {  // this buffer's own, recorded again: keep all of it
      start = std::min(start, it->first);
      end = std::max(end, it->second.end);
    }
    it = claimed_.erase(it);  // (a dead buffer's block is never compared again: dropped)
  }
  // Adjacent blocks of one buffer are one claim: a buffer of 4 KiB blocks in consecutive frames
  // (262,144 of them for 1 GiB) is one map entry, not one per block.
  if (it != claimed_.end() && it->first == end && it->second.buffer == buffer) {
    end = it->second.end;
    it = claimed_.erase(it);
  }
  if (it != claimed_.begin()) {
    const auto before = std::prev(it);
    if (before->second.end == start && before->second.buffer == buffer) {
      before->second.end = end;
      return true;
    }
  }
  claimed_.emplace_hint(it, start, Claim{end, buffer});
  return true;
}

KnPid Sut::impl_pid(model::Pid pid) const {
  auto it = pids_.find(pid);
  return it == pids_.end() ? 0 : it->second;
}

Retcode Sut::get_info(model::Pid pid, Handle h, bool phys_info, InfoPtr* out) const {
  DmaInfo* raw = nullptr;
  const Retcode rc = phys_info ? api_.dma_get_phys_info(session_, impl_pid(pid), h, &raw)
                               : api_.dma_get_info(session_, impl_pid(pid), h, &raw);
  *out = InfoPtr(rc == rcOk ? raw : nullptr, InfoDeleter{api_.free_info});
  return rc;
}

}  // namespace kniommu::conformance
