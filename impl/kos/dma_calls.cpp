// dma.h: buffers, CPU mappings, grants (KnIoDmaBegin/BeginEx) and the info calls. Check order as
// in docs/semantics.md "Buffers" and "KnIoDmaBegin"; fallible allocations before any commit.
#include <cstdlib>
#include <cstring>

#include "common/failpoint.h"
#include "kos/dma_h.h"
#include "kos/system.h"

namespace kniommu::kos {
namespace {

constexpr std::uint64_t kPage = 4096;

bool valid_size(std::uint64_t size) {
  return size != 0 && size % kPage == 0 && size <= DMA_SIZE_MAX;
}

// The cache policy is a 2-bit value inside DMA_ATTR_CACHE_MASK, so any value is exactly one policy.
bool valid_flags(std::uint32_t flags) {
  return (flags & ~DMA_ATTR_VALID_MASK) == 0 && (flags & DMA_DIR_BIDIR) != 0;
}

}  // namespace

Retcode System::new_buffer_locked(Process& p, std::uint32_t order, std::size_t size,
                                  std::uint32_t flags, Handle* out) {
  if (!valid_size(size) || !valid_flags(flags) || order > DMA_ORDER_MAX) return rcInvalidArgument;
  const std::uint64_t pages = size / kPage;
  const std::uint64_t blocks = (pages + (std::uint64_t{1} << order) - 1) >> order;
  if (blocks > DMA_FRAMES_COUNT_MAX) return rcInvalidArgument;
  if (Retcode rc = p.handles.reserve(); rc != rcOk) return rc;
  if (failpoint_hit()) return rcOutOfMemory;  // the buffer node
  auto b = std::make_unique<Buffer>();
  b->flags = flags;
  b->order = order;
  b->size = size;
  b->blocks.reserve(blocks);
  const vtd::PhysAddr limit = (flags & DMA_ZONE_DMA32) != 0 ? vtd::PhysAddr{1} << 32 : 0;
  for (std::uint64_t i = 0; i < blocks; ++i) {
    vtd::PhysAddr pa = 0;
    if (Retcode rc = hw_->mem().alloc_frames(order, limit, &pa); rc != rcOk) {
      hw_->mem().free_blocks(b->blocks.data(), b->blocks.size(), order);
      return rc;
    }
    b->blocks.push_back(pa);
  }
  b->refs = 1;
  *out = p.handles.insert(ObjectKind::Buffer, b.get());
  buffers_.emplace(b.get(), std::move(b));
  return rcOk;
}

Retcode System::dma_create(KnPid pid, std::uint32_t order, std::size_t size, std::uint32_t flags,
                           Handle* out) {
  if (out == nullptr) return rcInvalidArgument;
  std::lock_guard lock(mu_);
  Process* p = process_locked(pid);
  if (p == nullptr) return rcInvalidArgument;
  return new_buffer_locked(*p, order, size, flags, out);
}

Retcode System::dma_create_continuous(KnPid pid, std::size_t size, std::uint32_t flags,
                                      Handle* out) {
  if (out == nullptr) return rcInvalidArgument;
  std::lock_guard lock(mu_);
  Process* p = process_locked(pid);
  if (p == nullptr) return rcInvalidArgument;
  // The smallest order whose single block covers `size` (an invalid size keeps order 0 and is
  // rejected by new_buffer_locked, as is an order above DMA_ORDER_MAX).
  std::uint32_t order = 0;
  while (valid_size(size) && (std::uint64_t{1} << order) * kPage < size) ++order;
  return new_buffer_locked(*p, order, size, flags, out);
}

Retcode System::dma_map(KnPid pid, Handle rid, std::size_t offset, std::size_t length, void* hint,
                        int vmflags, void** addr, Handle* out) {
  if (addr == nullptr || out == nullptr || hint != nullptr) return rcInvalidArgument;
  std::lock_guard lock(mu_);
  Process* p = process_locked(pid);
  if (p == nullptr) return rcInvalidArgument;
  Object* obj = nullptr;
  if (Retcode rc = p->handles.resolve(rid, ObjectKind::Buffer, &obj); rc != rcOk) return rc;
  auto& b = static_cast<Buffer&>(*obj);
  const std::uint64_t bytes = b.footprint_pages() * kPage;
  const bool vm_ok = vmflags == VMM_FLAG_READ || vmflags == VMM_FLAG_WRITE ||
                     vmflags == (VMM_FLAG_READ | VMM_FLAG_WRITE);
  if (offset % kPage != 0 || length % kPage != 0 || length == 0 || offset > bytes ||
      length > bytes - offset || !vm_ok)
    return rcInvalidArgument;
  if (Retcode rc = p->handles.reserve(); rc != rcOk) return rc;
  if (failpoint_hit()) return rcOutOfMemory;  // the mapping node
  auto m = std::make_unique<Mapping>();
  m->buffer = &b;
  m->va = p->next_va;
  m->offset = offset;
  m->length = length;
  m->vmflags = vmflags;
  p->next_va += length + kPage;  // one unmapped guard page between mappings
  ++b.refs;
  *out = p->handles.insert(ObjectKind::Mapping, m.get());
  // A simulated process-virtual address, only ever passed back to KnSimVmRead/KnSimVmWrite.
  *addr = reinterpret_cast<void*>(m->va);  // NOLINT(performance-no-int-to-ptr)
  p->mappings.emplace(m->va, std::move(m));
  return rcOk;
}

Retcode System::new_grant_locked(Process& p, Buffer& b, Domain* d, Handle* out) {
  if (b.grants.contains(d)) return rcAlreadyExists;
  if (Retcode rc = p.handles.reserve(); rc != rcOk) return rc;
  if (failpoint_hit()) return rcOutOfMemory;  // the grant node
  auto g = std::make_unique<Grant>();
  g->buffer = &b;
  g->domain = d;
  g->owner = &p;
  g->iova = b.blocks.front();  // IOMMU disabled: IOVA = physical address
  if (d != nullptr) {
    if (Retcode rc = d->map_grant(*g); rc != rcOk) return rc;
  }
  g->handle = p.handles.insert(ObjectKind::Grant, g.get());
  *out = g->handle;
  ++b.refs;
  b.grants.emplace(d, g.get());
  p.grants.emplace(g.get(), std::move(g));
  return rcOk;
}

Retcode System::dma_begin(KnPid pid, Handle rid, Handle* out) {
  if (out == nullptr) return rcInvalidArgument;
  std::lock_guard lock(mu_);
  Process* p = process_locked(pid);
  if (p == nullptr) return rcInvalidArgument;
  Object* obj = nullptr;
  if (Retcode rc = p->handles.resolve(rid, ObjectKind::Buffer, &obj); rc != rcOk) return rc;
  if (driver_ != nullptr && p->auto_domain == nullptr) return rcResourceNotFound;
  // IOMMU disabled: a domain-less grant (IOVA = physical address).
  return new_grant_locked(*p, static_cast<Buffer&>(*obj),
                          driver_ != nullptr ? p->auto_domain : nullptr, out);
}

Retcode System::dma_begin_ex(KnPid pid, Handle rid, Handle domain, Handle* out) {
  if (out == nullptr) return rcInvalidArgument;
  std::lock_guard lock(mu_);
  Process* p = process_locked(pid);
  if (p == nullptr) return rcInvalidArgument;
  Object* buf = nullptr;
  Object* dom = nullptr;
  if (Retcode rc = p->handles.resolve(rid, ObjectKind::Buffer, &buf); rc != rcOk) return rc;
  if (Retcode rc = p->handles.resolve(domain, ObjectKind::Domain, &dom); rc != rcOk) return rc;
  return new_grant_locked(*p, static_cast<Buffer&>(*buf), static_cast<Domain*>(dom), out);
}

Retcode System::dma_info(KnPid pid, Handle h, bool physical, void** out) {
  if (out == nullptr) return rcInvalidArgument;
  std::lock_guard lock(mu_);
  Process* p = process_locked(pid);
  if (p == nullptr) return rcInvalidArgument;
  Object* obj = nullptr;
  if (Retcode rc = p->handles.resolve(h, ObjectKind::Buffer, &obj, ObjectKind::Grant); rc != rcOk)
    return rc;
  const Grant* grant = obj->kind == ObjectKind::Grant ? static_cast<const Grant*>(obj) : nullptr;
  const Buffer& b = grant != nullptr ? *grant->buffer : static_cast<const Buffer&>(*obj);
  if (grant == nullptr && !physical && driver_ != nullptr) {
    // A buffer handle's IOVA view: its grant in the automatic domain, if any (count 0 otherwise).
    const auto it = b.grants.find(p->auto_domain);
    if (p->auto_domain != nullptr && it != b.grants.end()) grant = it->second;
  }
  const bool translated = !physical && driver_ != nullptr;
  const std::size_t count = translated && grant == nullptr ? 0 : b.blocks.size();
  if (failpoint_hit()) return rcOutOfMemory;
  const std::size_t bytes =
      sizeof(DmaInfo) + (count > 1 ? count - 1 : 0) * sizeof(DmaFrameDescriptor);
  auto* info = static_cast<DmaInfo*>(std::malloc(bytes));
  if (info == nullptr) return rcOutOfMemory;
  std::memset(info, 0, bytes);
  info->flags = b.flags;
  info->orderMin = b.order;
  info->size = b.size;
  info->count = count;
  const std::uint64_t block_bytes = b.block_pages() * kPage;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t addr =
        translated && grant->domain != nullptr ? grant->iova + i * block_bytes : b.blocks[i];
    info->descriptors[i].order = b.order;
    info->descriptors[i].frame = addr >> 12;
  }
  *out = info;
  return rcOk;
}

}  // namespace kniommu::kos
