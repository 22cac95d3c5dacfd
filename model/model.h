// The executable reference model of the kniommu API (docs/semantics.md, spec/KnIommu.tla).
//
// Plain value types and pure step functions: one function per API call, taking the state by
// reference and the call's inputs, returning the Retcode (and handle / block count) and changing
// the state only on success. No page tables, no caches, no IOVA allocator policy: what the
// implementation is free to choose (the IOVA of a grant) and what the model cannot predict
// (running out of frames or memory) are INPUTS of the step functions.
//
// Conventions shared with the C API (docs/semantics.md):
//  - checks happen in the documented order; the first failing check decides the Retcode;
//  - null out-pointers (and a non-null KnIoDmaMap hint) are rejected with rcInvalidArgument
//    before every other check by every call; the model takes no pointers, so the refinement suite
//    checks those cases without consulting the model;
//  - a call made on behalf of a pid that is not a live process returns rcInvalidArgument
//    (harness misuse; the C API cannot express it).
#ifndef KNIOMMU_MODEL_MODEL_H
#define KNIOMMU_MODEL_MODEL_H

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "kniommu/handle.h"
#include "kniommu/retcode.h"

namespace kniommu::model {

using Pid = uint32_t;
using Handle = ::Handle;
using Bdf = uint16_t;
// Model-internal object names. Allocated 1, 2, 3, ... per kind and never reused within a run, so
// an id names the same object for the whole run (ids are not handle values). A domain's serial is
// not its DID: the spec and the hardware recycle DIDs (spec/KnIommu.tla `Dids`), the model never
// reuses a serial (docs/semantics.md "Glossary").
using DomainSerial = uint32_t;
using BufferId = uint32_t;
using GrantId = uint32_t;
using MappingId = uint32_t;
using DmaAttr =
    uint32_t;  // as in kniommu/dma.h (not included: its anonymous struct is not ISO C++)

inline constexpr Handle kInvalidHandle = INVALID_HANDLE;
inline constexpr uint64_t kPageSize = 4096;

struct Config {
  bool iommu_enabled = true;
  std::vector<uint16_t> devices;  // BDFs present on the bus
  unsigned address_width = 48;    // 39/48/57: every IOVA a device can use is < 2^width
  uint32_t max_domains = 0xFFFF;  // usable DIDs = most domains alive at once
  bool operator==(const Config&) const = default;
};

enum class Kind : uint8_t { Domain, Buffer, Grant, Mapping };

// One slot of a process's handle table. `object` is a DomainSerial, BufferId, GrantId or MappingId
// according to `kind`. A revoked entry (a grant whose domain was destroyed) keeps its slot and
// names a grant that no longer exists.
struct HandleEntry {
  Kind kind;
  uint32_t object;
  bool revoked = false;
  bool operator==(const HandleEntry&) const = default;
};

struct Process {
  bool alive = true;
  std::map<Handle, HandleEntry> handles;
  std::optional<DomainSerial> auto_domain;  // exists from the first successful attach until exit
  bool attached_once = false;           // history: some KnIommuAttachDevice attached a device
  bool operator==(const Process&) const = default;
};

struct Domain {
  Pid owner;
  bool automatic;
  std::set<Bdf> devices;  // attached devices (attachment(bdf) == this domain)
  bool operator==(const Domain&) const = default;
};

struct Buffer {
  Pid creator;  // buffers are not transferred between processes
  DmaAttr flags;
  uint32_t order;   // every block has 2^order pages
  uint64_t size;    // bytes, as requested
  uint64_t blocks;  // ceil(pages / 2^order)
  uint64_t footprint_pages() const { return blocks << order; }
  bool operator==(const Buffer&) const = default;
};

// A buffer associated with a domain (KnIoDmaBegin/BeginEx). `domain` is empty only for a
// KnIoDmaBegin grant with the IOMMU disabled (IOVA = physical address, no domain involved).
struct Grant {
  BufferId buffer;
  std::optional<DomainSerial> domain;
  uint64_t iova;   // first byte: the grant covers [iova, iova + pages * 4096); spec: iovaPage
  uint64_t pages;  // = footprint of the buffer
  bool operator==(const Grant&) const = default;
};

struct Mapping {
  BufferId buffer;
  uint64_t offset;
  uint64_t length;
  int vmflags;
  bool operator==(const Mapping&) const = default;
};

struct State {
  Config config;
  std::map<Pid, Process> processes;  // exited processes stay, with alive == false
  std::map<DomainSerial, Domain> domains;
  std::map<BufferId, Buffer> buffers;
  std::map<GrantId, Grant> grants;
  std::map<MappingId, Mapping> mappings;
  // Next id of each kind (ids are never reused).
  Pid next_pid = 1;
  DomainSerial next_domain = 1;
  BufferId next_buffer = 1;
  GrantId next_grant = 1;
  MappingId next_mapping = 1;
  bool operator==(const State&) const = default;
};

State initial_state(Config config);

// Readable dump for counterexample traces.
std::ostream& operator<<(std::ostream& os, const State& s);
std::ostream& operator<<(std::ostream& os, Kind k);
std::string retcode_name(Retcode rc);

struct StateHash {
  size_t operator()(const State& s) const;
};

// ---- Queries the refinement suite needs ----------------------------------------------------
bool device_known(const State& s, Bdf bdf);
std::optional<DomainSerial> attachment(const State& s, Bdf bdf);
bool process_alive(const State& s, Pid pid);
const HandleEntry* lookup_handle(const State& s, Pid pid, Handle h);  // nullptr if no entry
size_t live_domain_count(const State& s);

// Whether the implementation's IOVA choice for a new grant of `pages` pages in `domain` is legal:
// page-aligned, [iova, iova + pages*4096) below 2^address_width, and not overlapping another
// grant's range in the same domain. With the IOMMU disabled only alignment is required
// (IOVA = physical address).
bool valid_iova(const State& s, std::optional<DomainSerial> domain, uint64_t iova, uint64_t pages);

// ---- Step functions ------------------------------------------------------------------------
struct Result {
  Retcode rc = rcOk;
  Handle handle = kInvalidHandle;  // the new handle on success, else kInvalidHandle
  Pid pid = 0;                     // process_create only
  uint64_t count = 0;              // dma_get_info / dma_get_phys_info: DmaInfo.count
  // The implementation's nondeterministic choice passed in (the IOVA) is not legal per
  // valid_iova: a refinement failure, not an API outcome. rc is rcInternalError, state unchanged.
  bool illegal_choice = false;
};

Result process_create(State& s);
Result process_exit(State& s, Pid pid);

Result attach_device(State& s, Pid pid, Bdf bdf, bool out_of_memory = false);
Result detach_device(State& s, Pid pid, Bdf bdf);
Result create_domain(State& s, Pid pid, bool out_of_memory = false);
Result attach_device_to_domain(State& s, Pid pid, Bdf bdf, Handle domain,
                               bool out_of_memory = false);
Result detach_device_from_domain(State& s, Pid pid, Bdf bdf, Handle domain);

Result dma_create(State& s, Pid pid, uint32_t order, uint64_t size, DmaAttr flags,
                  bool out_of_memory = false);
Result dma_create_continuous(State& s, Pid pid, uint64_t size, DmaAttr flags,
                             bool out_of_memory = false);
Result dma_map(State& s, Pid pid, Handle rid, uint64_t offset, uint64_t length, int vmflags,
               bool out_of_memory = false);
// `iova`: the first IOVA the implementation chose for the grant (ignored on failure).
Result dma_begin(State& s, Pid pid, Handle rid, uint64_t iova, bool out_of_memory = false);
Result dma_begin_ex(State& s, Pid pid, Handle rid, Handle domain, uint64_t iova,
                    bool out_of_memory = false);
// KnHandleClose and KnIoClose.
Result handle_close(State& s, Pid pid, Handle h);
// Read-only: the state is never changed. `count` is DmaInfo.count.
Result dma_get_info(const State& s, Pid pid, Handle h, bool out_of_memory = false);
Result dma_get_phys_info(const State& s, Pid pid, Handle h, bool out_of_memory = false);

// ---- What a device can reach ---------------------------------------------------------------
enum class Dir { Read /* device reads memory */, Write /* device writes memory */ };

struct Access {
  bool allowed = false;
  uint8_t fault_reason = 0;   // VT-d fault reason when !allowed: 0x2, 0x4, 0x5 (write), 0x6 (read)
  BufferId buffer = 0;        // allowed && !untranslated: the buffer reached ...
  uint64_t page = 0;          // ... and the page index within its footprint
  bool untranslated = false;  // IOMMU disabled: the address is physical, no isolation
};

// A one-page DMA by `bdf` at `iova` (any byte of the page). A multi-page request succeeds iff
// every page does. An unknown BDF faults with 0x2 (no context entry can exist for it).
Access can_access(const State& s, Bdf bdf, uint64_t iova, Dir dir);

// Names (as in spec/KnIommu.tla) of every invariant `s` violates; empty when all hold.
std::vector<std::string> check_invariants(const State& s);

}  // namespace kniommu::model

#endif
