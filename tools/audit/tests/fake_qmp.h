// A QMP server on a unix socket that plays a paused-or-running QEMU with a VT-d unit, for testing
// the QMP capture without a VM: greeting, qmp_capabilities, query-status, stop/cont,
// human-monitor-command (xp of the unit's registers, info qtree, info mtree -f) and pmemsave
// of the pages of a snapshot. It records every command it was sent.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "snapshot/format.h"

namespace kniommu::live::testing {

class FakeQmp {
 public:
  // `memory`: registers and pages the "guest" has; RAM is [0, ram_bytes).
  FakeQmp(const std::string& socket_path, snapshot::Snapshot memory, std::uint64_t ram_bytes);
  ~FakeQmp();
  FakeQmp(const FakeQmp&) = delete;
  FakeQmp& operator=(const FakeQmp&) = delete;

  std::vector<std::string> commands();  // the "execute" names in order (HMP: its command line)
  bool running() const { return running_; }
  void set_running(bool running) { running_ = running; }
  std::string qtree_extra;  // appended to `info qtree` (before the run starts)

 private:
  void serve();
  std::string answer(const std::string& request);

  std::string path_;
  snapshot::Snapshot memory_;
  std::uint64_t ram_bytes_;
  int listen_fd_ = -1;
  std::atomic<bool> running_{true};
  std::mutex mutex_;
  std::vector<std::string> commands_;
  std::thread thread_;
};

}  // namespace kniommu::live::testing
