#include "kos/handle_table.h"

#include "common/failpoint.h"

namespace kniommu::kos {

Retcode HandleTable::reserve() {
  if (failpoint_hit()) return rcOutOfMemory;
  if (!free_.empty()) return rcOk;
  if (entries_.size() >= kMaxHandles) return rcOutOfMemory;
  return rcOk;
}

Handle HandleTable::insert(ObjectKind kind, Object* object) {
  std::uint32_t index;
  if (!free_.empty()) {
    index = free_.top();
    free_.pop();
  } else {
    index = static_cast<std::uint32_t>(entries_.size());
    entries_.emplace_back();
  }
  entries_[index] = HandleEntry{kind, false, object};
  ++live_;
  return index + 1;
}

const HandleEntry* HandleTable::find(Handle h) const {
  if (h == 0 || h == INVALID_HANDLE || h > entries_.size()) return nullptr;
  const HandleEntry& e = entries_[h - 1];
  return e.kind == ObjectKind::None ? nullptr : &e;
}

Retcode HandleTable::resolve(Handle h, ObjectKind kind, Object** out, ObjectKind kind2) const {
  const HandleEntry* e = find(h);
  if (e == nullptr) return rcInvalidArgument;
  if (e->revoked) return rcHandleRevoked;
  if (e->kind != kind && (kind2 == ObjectKind::None || e->kind != kind2)) return rcInvalidArgument;
  *out = e->object;
  return rcOk;
}

void HandleTable::revoke(Handle h) {
  HandleEntry& e = entries_[h - 1];
  e.revoked = true;
  e.object = nullptr;
}

void HandleTable::erase(Handle h) {
  entries_[h - 1] = HandleEntry{};
  free_.push(h - 1);
  --live_;
}

std::vector<Handle> HandleTable::live() const {
  std::vector<Handle> out;
  out.reserve(live_);
  for (std::uint32_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].kind != ObjectKind::None) out.push_back(i + 1);
  return out;
}

}  // namespace kniommu::kos
