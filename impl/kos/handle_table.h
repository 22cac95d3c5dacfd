// A process's handle table: typed entries, a revoked flag, and the smallest free value >= 1 handed
// out next (docs/semantics.md "Handles": deterministic values let the model and the implementation
// be compared handle-for-handle).
//
// Allocation is two-phase so a failing API call can leave the table unchanged: reserve() is the
// fallible step (the fail-nth injection point for handle slots), insert() then cannot fail.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "kniommu/handle.h"
#include "kos/objects.h"

namespace kniommu::kos {

struct HandleEntry {
  ObjectKind kind = ObjectKind::None;  // None = free slot
  bool revoked = false;
  Object* object = nullptr;  // nullptr once revoked
};

class HandleTable {
 public:
  // Most handles one process may hold; beyond it reserve() fails with rcOutOfMemory.
  static constexpr std::uint32_t kMaxHandles = 1u << 22;

  // Makes sure insert() has a slot. Idempotent until the next insert().
  Retcode reserve();
  // Requires a successful reserve() since the last insert(). Returns the smallest free value.
  Handle insert(ObjectKind kind, Object* object);

  // The lookup every handle-taking call does, in the documented order: a live entry of this table
  // (else rcInvalidArgument), not revoked (else rcHandleRevoked), of kind `kind` (else
  // rcInvalidArgument). `kind2` allows a second kind (GetInfo takes buffers and grants).
  Retcode resolve(Handle h, ObjectKind kind, Object** out,
                  ObjectKind kind2 = ObjectKind::None) const;
  // The live entry `h` (revoked or not), or nullptr.
  const HandleEntry* find(Handle h) const;

  void revoke(Handle h);
  void erase(Handle h);

  // Live handle values in increasing order (process exit closes them in this order).
  std::vector<Handle> live() const;
  std::size_t size() const { return live_; }
  // Entries indexed by handle - 1 (for state digests).
  const std::vector<HandleEntry>& entries() const { return entries_; }

 private:
  std::vector<HandleEntry> entries_;  // entries_[h - 1]
  std::priority_queue<std::uint32_t, std::vector<std::uint32_t>, std::greater<>> free_;
  std::size_t live_ = 0;
};

}  // namespace kniommu::kos
