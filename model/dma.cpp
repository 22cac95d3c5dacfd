// Step functions of DMA buffers, mappings and grants (docs/semantics.md "Buffers",
// "KnIoDmaBegin", "KnIoDmaGetInfo").
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"  // dma.h's DmaFrameDescriptor: anonymous struct
#include "kniommu/dma.h"
#pragma GCC diagnostic pop

#include "model/internal.h"

namespace kniommu::model {

using detail::fail;

namespace {

bool valid_size(uint64_t size) {
  return size != 0 && size % kPageSize == 0 && size <= DMA_SIZE_MAX;
}

bool valid_flags(DmaAttr flags) {
  // The cache policy is a 2-bit value inside DMA_ATTR_CACHE_MASK: any value is one policy.
  return (flags & ~DMA_ATTR_VALID_MASK) == 0 && (flags & DMA_DIR_BIDIR) != 0;
}

Result new_buffer(State& s, Process& p, Pid pid, uint32_t order, uint64_t size, DmaAttr flags,
                  bool out_of_memory) {
  if (!valid_size(size) || !valid_flags(flags) || order > DMA_ORDER_MAX) {
    return fail(rcInvalidArgument);
  }
  const uint64_t pages = size / kPageSize;
  const uint64_t blocks = (pages + (uint64_t{1} << order) - 1) >> order;
  if (blocks > DMA_FRAMES_COUNT_MAX) {
    return fail(rcInvalidArgument);
  }
  if (out_of_memory) {
    return fail(rcOutOfMemory);
  }
  const BufferId b = s.next_buffer++;
  s.buffers.emplace(b, Buffer{pid, flags, order, size, blocks});
  Result r;
  r.handle = detail::add_handle(p, HandleEntry{Kind::Buffer, b});
  return r;
}

// Creates the grant of the buffer named by `buffer` in `domain` after the shared checks 4-6 of
// KnIoDmaBegin / KnIoDmaBeginEx.
Result new_grant(State& s, Process& p, const HandleEntry& buffer,
                 std::optional<DomainSerial> domain, uint64_t iova, bool out_of_memory) {
  if (detail::find_grant(s, buffer.object, domain) != nullptr) {
    return fail(rcAlreadyExists);
  }
  if (out_of_memory) {
    return fail(rcOutOfMemory);
  }
  const uint64_t pages = s.buffers.at(buffer.object).footprint_pages();
  if (!valid_iova(s, domain, iova, pages)) {
    Result r = fail(rcInternalError);
    r.illegal_choice = true;
    return r;
  }
  const GrantId g = s.next_grant++;
  s.grants.emplace(g, Grant{buffer.object, domain, iova, pages});
  Result r;
  r.handle = detail::add_handle(p, HandleEntry{Kind::Grant, g});
  return r;
}

// The shared checks of GetInfo / GetPhysInfo: caller, a buffer or grant handle, allocation.
Result info_prefix(const State& s, Pid pid, Handle h, bool out_of_memory, const Process** p,
                   const HandleEntry** e) {
  *p = detail::live_process(s, pid);
  if (*p == nullptr) {
    return fail(rcInvalidArgument);
  }
  if (const Retcode rc = detail::resolve(**p, h, {Kind::Buffer, Kind::Grant}, e); rc != rcOk) {
    return fail(rc);
  }
  if (out_of_memory) {
    return fail(rcOutOfMemory);
  }
  return Result{};
}

// The common prefix of calls on a buffer handle: a live caller, then the handle checks.
Retcode buffer_call_prefix(State& s, Pid pid, Handle rid, Process** p, const HandleEntry** e) {
  *p = detail::live_process(s, pid);
  if (*p == nullptr) {
    return rcInvalidArgument;
  }
  return detail::resolve(**p, rid, {Kind::Buffer}, e);
}

BufferId buffer_of(const State& s, const HandleEntry& e) {
  return e.kind == Kind::Grant ? s.grants.at(e.object).buffer : e.object;
}

}  // namespace

Result dma_create(State& s, Pid pid, uint32_t order, uint64_t size, DmaAttr flags,
                  bool out_of_memory) {
  Process* p = detail::live_process(s, pid);
  if (p == nullptr) {
    return fail(rcInvalidArgument);
  }
  return new_buffer(s, *p, pid, order, size, flags, out_of_memory);
}

Result dma_create_continuous(State& s, Pid pid, uint64_t size, DmaAttr flags, bool out_of_memory) {
  Process* p = detail::live_process(s, pid);
  if (p == nullptr) {
    return fail(rcInvalidArgument);
  }
  // The smallest order whose one block covers `size`; beyond DMA_ORDER_MAX the size is invalid
  // (new_buffer rejects the order).
  uint32_t order = 0;
  while (valid_size(size) && (uint64_t{1} << order) * kPageSize < size) {
    ++order;
  }
  return new_buffer(s, *p, pid, order, size, flags, out_of_memory);
}

Result dma_map(State& s, Pid pid, Handle rid, uint64_t offset, uint64_t length, int vmflags,
               bool out_of_memory) {
  Process* p = nullptr;
  const HandleEntry* e = nullptr;
  if (const Retcode rc = buffer_call_prefix(s, pid, rid, &p, &e); rc != rcOk) {
    return fail(rc);
  }
  const uint64_t bytes = s.buffers.at(e->object).footprint_pages() * kPageSize;
  const bool vm_ok = vmflags == VMM_FLAG_READ || vmflags == VMM_FLAG_WRITE ||
                     vmflags == (VMM_FLAG_READ | VMM_FLAG_WRITE);
  if (offset % kPageSize != 0 || length % kPageSize != 0 || length == 0 || offset > bytes ||
      length > bytes - offset || !vm_ok) {
    return fail(rcInvalidArgument);
  }
  if (out_of_memory) {
    return fail(rcOutOfMemory);
  }
  const MappingId m = s.next_mapping++;
  s.mappings.emplace(m, Mapping{e->object, offset, length, vmflags});
  Result r;
  r.handle = detail::add_handle(*p, HandleEntry{Kind::Mapping, m});
  return r;
}

Result dma_begin(State& s, Pid pid, Handle rid, uint64_t iova, bool out_of_memory) {
  Process* p = nullptr;
  const HandleEntry* e = nullptr;
  if (const Retcode rc = buffer_call_prefix(s, pid, rid, &p, &e); rc != rcOk) {
    return fail(rc);
  }
  if (s.config.iommu_enabled && !p->auto_domain) {
    return fail(rcResourceNotFound);
  }
  // IOMMU disabled: a domain-less grant (IOVA = physical address).
  const std::optional<DomainSerial> domain = s.config.iommu_enabled ? p->auto_domain : std::nullopt;
  return new_grant(s, *p, *e, domain, iova, out_of_memory);
}

Result dma_begin_ex(State& s, Pid pid, Handle rid, Handle domain, uint64_t iova,
                    bool out_of_memory) {
  Process* p = detail::live_process(s, pid);
  if (p == nullptr) {
    return fail(rcInvalidArgument);
  }
  const HandleEntry* b = nullptr;
  const HandleEntry* d = nullptr;
  if (const Retcode rc = detail::resolve(*p, rid, {Kind::Buffer}, &b); rc != rcOk) {
    return fail(rc);
  }
  if (const Retcode rc = detail::resolve(*p, domain, {Kind::Domain}, &d); rc != rcOk) {
    return fail(rc);
  }
  return new_grant(s, *p, *b, d->object, iova, out_of_memory);
}

Result dma_get_info(const State& s, Pid pid, Handle h, bool out_of_memory) {
  const Process* p = nullptr;
  const HandleEntry* e = nullptr;
  Result r = info_prefix(s, pid, h, out_of_memory, &p, &e);
  if (r.rc != rcOk) {
    return r;
  }
  const Buffer& b = s.buffers.at(buffer_of(s, *e));
  // A buffer handle's IOVA view is its grant in the automatic domain ("count may be 0 if the
  // buffer is not available for the device"); with the IOMMU disabled IOVA = physical.
  const bool visible = e->kind == Kind::Grant || !s.config.iommu_enabled ||
                       (p->auto_domain && detail::find_grant(s, e->object, p->auto_domain));
  r.count = visible ? b.blocks : 0;
  return r;
}

Result dma_get_phys_info(const State& s, Pid pid, Handle h, bool out_of_memory) {
  const Process* p = nullptr;
  const HandleEntry* e = nullptr;
  Result r = info_prefix(s, pid, h, out_of_memory, &p, &e);
  if (r.rc == rcOk) {
    r.count = s.buffers.at(buffer_of(s, *e)).blocks;
  }
  return r;
}

}  // namespace kniommu::model
