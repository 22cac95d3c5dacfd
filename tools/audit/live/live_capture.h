// Snapshots of a remapping unit that kniommu did not build: a running QEMU VM read over QMP
// (paused while it is read), or a guest memory dump plus register values (offline). Both walk
// the tables with the audit's own walker and save every table page it reaches, in the
// snapshot format of docs/snapshot-format.md. Only legacy-mode tables in guest RAM are handled;
// anything else is refused with a message (docs/auditing-a-vm.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/format.h"

namespace kniommu::live {

struct CaptureReport {
  std::string error;                  // why nothing was captured (when the call returns false)
  std::vector<std::string> warnings;  // captured, but with these caveats
  std::size_t pages = 0;              // table pages saved
  double paused_seconds = 0;          // QMP: how long the VM was stopped
};

// Why a unit with these registers cannot be captured, or "" when it can (legacy-mode root
// table, VT-d spec §11.4.5: RTADDR.TTM = 00).
std::string refuse_reason(const snapshot::Registers& regs);

struct QmpOptions {
  std::optional<std::uint64_t> dmar_base;  // default: from `info qtree`, else 0xfed90000
  int timeout_ms = 10000;                  // per QMP reply
};

// stop → registers (xp), every reachable table page (pmemsave, only from guest RAM), the
// device tree's bypass facts (info qtree) → cont (only if it was running, on every path).
bool capture_qmp(const std::string& socket_path, const QmpOptions& options, snapshot::Snapshot& out,
                 CaptureReport& report);

// Register values for an offline capture: "cap=0x..,ecap=0x..,gsts=0x..,rtaddr=0x.." (commas
// or whitespace between), or "@FILE" holding the same text.
bool parse_registers(const std::string& spec, snapshot::Registers& regs, std::string& error);

// A guest memory dump: the ELF core of QMP `dump-guest-memory` (PT_LOAD segments name guest
// physical addresses) or a raw image whose byte offset is the physical address.
bool capture_dump(const std::string& dump_path, const snapshot::Registers& regs,
                  snapshot::Snapshot& out, CaptureReport& report);

}  // namespace kniommu::live
