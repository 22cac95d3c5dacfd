// The kernel objects handles name (docs/semantics.md "Vocabulary"): Domain, Buffer, Grant,
// Mapping, and the Process that owns handles. Plain bookkeeping; the operations that change them
// (and program the hardware) live in System.
//
// Ownership: System owns processes and buffers; a Process owns its domains, grants and mappings.
// A Buffer is freed when its reference count (handles + grants + mappings) drops to zero.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "kniommu/handle.h"
#include "kniommu/sim.h"
#include "kos/iova_allocator.h"
#include "kos/page_table.h"

namespace kniommu::kos {

enum class ObjectKind : std::uint8_t { None, Domain, Buffer, Grant, Mapping };

struct Object {
  explicit Object(ObjectKind k) : kind(k) {}
  virtual ~Object() = default;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;
  const ObjectKind kind;
};

struct Process;
struct Grant;

struct Buffer final : Object {
  Buffer() : Object(ObjectKind::Buffer) {}
  std::uint32_t flags = 0;               // DmaAttr
  unsigned order = 0;                    // every block has 2^order pages
  std::uint64_t size = 0;                // bytes, as requested
  std::vector<std::uint64_t> blocks;     // physical address of each block
  std::uint32_t refs = 0;                // handles + grants + mappings
  std::map<const void*, Grant*> grants;  // key: the grant's domain (nullptr: domain-less grant)

  std::uint64_t block_pages() const { return std::uint64_t{1} << order; }
  std::uint64_t footprint_pages() const { return blocks.size() * block_pages(); }
  // Physical address of footprint page `page`.
  std::uint64_t page_pa(std::uint64_t page) const {
    return blocks[page >> order] + ((page & (block_pages() - 1)) << 12);
  }
};

struct Domain final : Object {
  Domain(Process* p, bool is_automatic, std::uint64_t iova_limit)
      : Object(ObjectKind::Domain), owner(p), automatic(is_automatic), iova(iova_limit) {}
  Process* owner;
  bool automatic;
  std::uint16_t did = 0;                   // 0: IOMMU disabled (bookkeeping-only domain)
  std::unique_ptr<DomainPageTable> table;  // null when the IOMMU is disabled
  std::set<std::uint16_t> devices;         // attached BDFs
  std::set<Grant*> grants;
  IovaAllocator iova;
  Handle handle = INVALID_HANDLE;  // created domains only
};

struct Grant final : Object {
  Grant() : Object(ObjectKind::Grant) {}
  Buffer* buffer = nullptr;
  Domain* domain = nullptr;  // nullptr: KnIoDmaBegin with the IOMMU disabled
  std::uint64_t iova = 0;    // first byte of the range (= physical block addresses if disabled)
  Process* owner = nullptr;
  Handle handle = INVALID_HANDLE;
};

struct Mapping final : Object {
  Mapping() : Object(ObjectKind::Mapping) {}
  Buffer* buffer = nullptr;
  std::uint64_t va = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  int vmflags = 0;
};

}  // namespace kniommu::kos
