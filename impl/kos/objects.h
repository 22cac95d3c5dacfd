// The kernel objects handles name (docs/semantics.md "Vocabulary"): Domain, Buffer, Grant,
// Mapping, and the Process that owns handles. Buffer, Grant and Mapping are plain bookkeeping
// changed by System; the Domain (kos/domain.h) programs its own table.
//
// Ownership: System owns processes and buffers; a Process owns its domains, grants and mappings.
// A Buffer is freed when its reference count (handles + grants + mappings) drops to zero.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "kniommu/handle.h"
#include "kniommu/sim.h"

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
class Domain;  // kos/domain.h

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
