// Coverage evidence of a conformance run: what the suite actually exercised, per hardware
// configuration, counted where the commands observe outcomes. Calls x Retcodes come from the
// Retcodes the implementation returned; DMA outcomes from the device's result; leaf sizes and
// invalidation kinds from what the remapping hardware itself sees — second-level table bytes and
// the descriptors in the invalidation queue (VT-d spec §6.5.2) — never from the implementation's
// bookkeeping. docs/reproducing.md ("Coverage") lists the keys.
//
// Keys (a flat map key -> count, so shards merge by adding):
//   call:<Call>:<Retcode>            e.g. call:KnIommuAttachDevice:rcBusy
//   dma:ok:read|write, dma:fault:<reason hex>, dma:unknown-bdf
//   leaf:mapped:4K|2M|1G, leaf:unmapped:4K|2M|1G
//   inv:context:global|domain|device, inv:iotlb:global|domain, inv:iotlb:page:am=<N>, inv:wait
//   cm1:<Call>:context|iotlb         (CM=1 configurations: a granting call that invalidated)
//   exit:live-objects, exit:empty    (ProcessExit of a process owning handles or attachments)
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kniommu/adapter.h"
#include "model/model.h"

namespace kniommu::conformance {
class Sut;
}

namespace kniommu::conformance::coverage {

using Counts = std::map<std::string, uint64_t>;

// The runner points the hooks at `sink` for one case (nullptr: hooks record nothing) and resets
// the per-case hardware trackers (queue tail, leaves seen).
void begin_case(Counts* sink);
void end_case();
// Commands executed in the current case (every hook of a finished command counts one).
uint64_t commands_in_case();
// Also publish that count here after every command (shared memory a parent reads after a crash).
void set_progress_counter(volatile uint64_t* counter);

// ---- hooks: one line each at the point where a command observes the outcome ----------------
// `command` is the command's shown text; the call name is the part before '('.
void call(const std::string& command, Retcode rc);
void dma(Retcode rc, bool write, uint8_t fault_reason);
void process_exit(const model::State& before, model::Pid pid);
// The 4 KiB leaves of one last-level table (every present entry is one, VT-d spec §9.8): entry
// i is present <=> bit i of `present`, its leaf at IOVA base + i * 4 KiB. 64 bytes instead of a
// list of up to 512 IOVAs, so two views of a table compare by eight AND-NOT popcounts.
struct TableLeaves {
  uint64_t base = 0;
  std::array<uint64_t, 8> present{};
  unsigned count = 0;  // set bits of `present`
};
// From the hardware-view walker: a second-level table root walked, a leaf found at `level`.
void view_root(uint64_t root);
void view_leaf(uint64_t root, uint64_t iova, unsigned level);
// All leaves of one last-level table; not copied, so a table whose decoding is reused is
// compared with the previous view by pointer.
void view_leaf_table(uint64_t root, const std::shared_ptr<const TableLeaves>& leaves);
// A leaf as the view hooks keep it (IOVAs are page aligned).
constexpr uint64_t leaf_key(uint64_t iova, unsigned level) { return iova | level; }
// After every command: reads the invalidation-queue descriptors the command submitted (IQA/IQT
// registers and queue memory) and closes the table view (leaves gone since the last view).
void after_command(const Sut& sut, const std::string& command);

// "key count" lines; parse() returns false on any malformed line.
std::string serialize(const Counts& c);
bool parse(const std::string& text, Counts& out);
void add(Counts& into, const Counts& from);

}  // namespace kniommu::conformance::coverage
