// The walker differential (docs/qemu-backend.md): the same VT-d structures, written bit by bit
// from the VT-d specification's entry formats (not through the project's layouts), installed in
// our emulated unit and in QEMU's intel-iommu; every DMA probe must give the same outcome on both.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kniommu/retcode.h"
#include "vtd/mmio.h"
#include "vtd/phys_mem.h"

namespace kniommu::qemu::diff {

// One side of the comparison: memory, the unit's registers, and edu-like devices (a 4 KiB buffer
// per device, filled by a DMA read, written out by a DMA write; a faulting read delivers zeros).
class Side {
 public:
  virtual ~Side() = default;
  virtual const char* name() const = 0;
  virtual vtd::PhysMem& mem() = 0;
  virtual vtd::Mmio& mmio() = 0;
  virtual Retcode dma(std::uint16_t bdf, std::uint64_t iova, std::size_t len, bool is_write) = 0;
  virtual std::string error() const { return {}; }
};

// `seeded_bug` (for the teeth test): 0 none, 1 no 1 GiB pages (SLLPS 2M only), 2 host address
// width 46 instead of QEMU's 48, 3 pass-through not supported.
// `mgaw` 48 (QEMU aw-bits=48: SAGAW 3+4 levels) or 39 (aw-bits=39: SAGAW 3 levels only).
std::unique_ptr<Side> make_emulator_side(int seeded_bug = 0, unsigned mgaw = 48);
// rcOk and *out, or why QEMU could not start.
Retcode make_qemu_side(std::unique_ptr<Side>* out, std::string* error, unsigned mgaw = 48);

// What a probe shows: the fault record (FSTS.PPF + FRCD) and, for successful transfers, bytes.
struct Outcome {
  bool fault = false;
  std::uint8_t reason = 0;
  std::uint64_t address = 0;  // FRCD fault information (page address)
  std::uint16_t sid = 0;
  bool is_read = false;
  std::vector<std::uint8_t> bytes;  // read: what reached memory via write-back; write: memory after
  bool operator==(const Outcome&) const = default;
};
std::string describe(const Outcome& o);

// Disagreements the specification permits or that are documented QEMU deviations
// (docs/qemu-backend.md "Walker differential"); anything else is unexplained and fails the test.
enum class Explained {
  kNo,
  // QEMU 7.2 checks permissions only on a page walk: a write through an IOTLB entry cached by an
  // earlier read of a read-only page is dropped without a fault record. The permission applies to
  // cached translations too (VT-d spec §6.2) and a write without W is a recorded non-recoverable
  // fault, reason 5 (VT-d spec §7); nothing is written either way.
  kQemuSilentWriteBlock,
  // QEMU no longer holds a translation the emulator still serves stale. A unit may drop cached
  // entries at any time and invalidate more than asked (VT-d spec §6.2, §6.5), so this is legal;
  // the emulator is the strictest legal hardware and keeps every stale entry.
  kQemuDroppedCachedEntry,
};

struct Report {
  std::uint64_t structures = 0;
  std::uint64_t probes = 0;
  std::vector<std::string> disagreements;  // unexplained: structure, probe, both outcomes
  std::map<Explained, std::vector<std::string>> explained;
  std::map<std::string, std::uint64_t> structures_by_kind;
};

// Runs every structure family against both sides; `seed` picks the random valid structures.
Report run_differential(Side& emulator, Side& qemu, std::uint32_t seed, unsigned random_cases);

}  // namespace kniommu::qemu::diff
