// The in-guest oracle: Linux's own record of every intel-iommu attach, map and unmap, taken by
// boot-time kprobes (run_vm.sh) and printed from /sys/kernel/tracing/trace. Replaying it gives,
// per device, the IOVA pages Linux believes are mapped, where to, and the prot it asked for.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace kniommu::linux_guest {

// Linux's prot bits (include/linux/iommu.h).
inline constexpr unsigned kProtRead = 1, kProtWrite = 2;

struct PageEntry {
  std::uint64_t pa = 0;
  unsigned prot = 0;
  friend bool operator==(const PageEntry&, const PageEntry&) = default;
};
using PageMap = std::map<std::uint64_t, PageEntry>;  // IOVA page address -> entry

struct Record {
  std::map<std::uint16_t, std::uint64_t> domain_of;  // BDF -> struct dmar_domain address
  std::map<std::uint64_t, PageMap> domains;          // domain address -> live pages
  std::size_t attaches = 0, maps = 0, unmaps = 0;
  bool lost_events = false;  // the trace header says entries were dropped
};

// Parses the trace text; lines it does not know are ignored. False with `error` when a probe
// line is malformed.
bool parse_record(const std::string& trace_text, Record& out, std::string& error);

}  // namespace kniommu::linux_guest
