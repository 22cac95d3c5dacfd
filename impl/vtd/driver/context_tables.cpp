#include "vtd/driver/context_tables.h"

#include "common/mutation.h"
#include "vtd/entries.h"

namespace kniommu::vtd::driver {
ContextTables::~ContextTables() {
  for (PhysAddr ctx : context_)
    if (ctx != 0) mem_.free_frame(ctx);
  if (root_ != 0) mem_.free_frame(root_);
}

void ContextTables::flushed(PhysAddr pa, std::size_t len) {
  if (flush_) mem_.flush_cpu_cache(pa, len);
}

Retcode ContextTables::init(bool flush_cpu_cache) {
  flush_ = flush_cpu_cache;
  if (Retcode rc = mem_.alloc_frame(&root_); rc != rcOk) return rc;
  flushed(root_, kPageSize);  // the allocator's zeroing, before SRTP lets the unit read it
  return rcOk;
}

Retcode ContextTables::ensure_bus(std::uint8_t bus) {
  if (context_[bus] != 0) return rcOk;
  PhysAddr table = 0;
  if (Retcode rc = mem_.alloc_frame(&table); rc != rcOk) return rc;
  context_[bus] = table;
  flushed(table, kPageSize);  // zeroed in memory before the root entry can lead the unit to it
  RootEntry root;
  root.set_present(1).set_context_table(table);
  const PhysAddr entry = root_ + std::uint64_t{bus} * 16;
  write_entry128(mem_, entry, root.w);
  flushed(entry, 16);
  return rcOk;
}

void ContextTables::write_present(std::uint16_t sid, std::uint16_t did, PhysAddr slptptr,
                                  unsigned aw) {
  // FPD = 0, TT = 00 (untranslated requests through the SL tables). write_entry128 stores the
  // present word last, so a concurrent walk never sees P with a stale DID or AW.
  ContextEntry e;
  e.set_present(1).set_tt(0).set_slptptr(slptptr).set_aw(aw).set_did(did);
  write_entry128(mem_, entry_address(sid), e.w);
  flushed(entry_address(sid), 16);
}

void ContextTables::clear(std::uint16_t sid) {
  clear_entry128(mem_, entry_address(sid));  // P first: from here on a walk sees not-present
  // The test-only mutant leaves the cleared entry in the CPU cache: a non-snooping unit keeps
  // walking the old, present entry after the invalidation (the missing write-back of Xen XSA-321).
  if (!mutant(Mutant::SkipsCacheFlush)) flushed(entry_address(sid), 16);
}

ContextEntryValue ContextTables::read(std::uint16_t sid) const {
  ContextEntryValue v;
  if (context_[sid >> 8] == 0) return v;
  ContextEntry e;
  e.w = read_entry128(mem_, entry_address(sid));
  v.present = e.present() != 0;
  v.slptptr = e.slptptr();
  v.aw = static_cast<unsigned>(e.aw());
  v.did = static_cast<std::uint16_t>(e.did());
  return v;
}

std::uint64_t ContextTables::frames() const {
  std::uint64_t n = root_ != 0 ? 1 : 0;
  for (PhysAddr ctx : context_) n += ctx != 0 ? 1 : 0;
  return n;
}

}  // namespace kniommu::vtd::driver
