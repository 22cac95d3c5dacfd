#include "hw/walker.h"

#include <cstddef>
#include <unordered_set>
#include <vector>

#include "hw/layout_masks.h"
#include "vtd/address_math.h"
#include "vtd/entries.h"
#include "vtd/sl_fields.h"

namespace kniommu::hw {
namespace {

using RootL = decltype(vtd::kRootEntry);
using CtxL = decltype(vtd::kContextEntry);
using TableL = decltype(vtd::kSlTableEntry);
using Pte4KL = decltype(vtd::kSlPte4K);
using Pte2ML = decltype(vtd::kSlPte2M);
using Pte1GL = decltype(vtd::kSlPte1G);

// The SL entry fields the walk reads, from the shared formats (vtd/sl_fields.h).
using vtd::sl_fields::kLeafAddr;
using vtd::sl_fields::kTableAddr;
constexpr std::uint64_t kR = vtd::sl_fields::kRead;
constexpr std::uint64_t kW = vtd::sl_fields::kWrite;
constexpr std::uint64_t kPs = vtd::sl_fields::kPageSize;
constexpr std::uint64_t kLeafRsvd[4] = {0, Pte4KL::reserved_mask(0), Pte2ML::reserved_mask(0),
                                        Pte1GL::reserved_mask(0)};
// SNP and TM have the same position in every leaf shape (checked at compile time).
constexpr std::uint64_t kSnp = mask_of(vtd::kSlPte4K, KNIOMMU_F("SNP"));
constexpr std::uint64_t kTm = mask_of(vtd::kSlPte4K, KNIOMMU_F("TM"));
static_assert(kSnp == mask_of(vtd::kSlPte2M, KNIOMMU_F("SNP")) &&
              kSnp == mask_of(vtd::kSlPte1G, KNIOMMU_F("SNP")));
static_assert(kTm == mask_of(vtd::kSlPte2M, KNIOMMU_F("TM")) &&
              kTm == mask_of(vtd::kSlPte1G, KNIOMMU_F("TM")));
// The unit's permission bits are the entries' R and W bits, and no reserved mask holds them: the
// walk's one-test check of a level (walk_at) relies on both.
static_assert(kR == kPermRead && kW == kPermWrite);
static_assert(((TableL::reserved_mask(0) | kLeafRsvd[1] | kLeafRsvd[2] | kLeafRsvd[3] | kPs | kSnp |
                kTm) &
               (kR | kW)) == 0);

using vtd::level_shift;  // the shared address arithmetic: 12 + 9 * (level - 1)

// Root and context entries are 128 bits: 16 bytes, two 64-bit words.
constexpr std::uint64_t kEntry128Bytes = 16;
constexpr std::size_t kEntry128Words = 2;

}  // namespace

Walker::Walker(const UnitConfig& config, const SimPhysMem& mem) : config_(config), mem_(mem) {
  root_rsvd_[0] = RootL::reserved_mask(0) | haw_bits(mask_of(vtd::kRootEntry, KNIOMMU_F("CTP")));
  root_rsvd_[1] = RootL::reserved_mask(1);
  context_rsvd_[0] =
      CtxL::reserved_mask(0) | haw_bits(mask_of(vtd::kContextEntry, KNIOMMU_F("SLPTPTR")));
  context_rsvd_[1] = CtxL::reserved_mask(1);

  leaf_allowed_[1] = true;
  leaf_allowed_[2] = (config.sllps & 1) != 0;
  leaf_allowed_[3] = (config.sllps & 2) != 0;
  // SNP is reserved because the unit never advertises ECAP.SC; TM unless ECAP.DT (VT-d spec §9.8).
  const std::uint64_t leaf_cap_rsvd = kSnp | (config.device_tlb ? 0 : kTm);
  for (unsigned level = 1; level <= 5; ++level) {
    // PS on a non-leaf level that cannot hold a leaf of that size is reserved.
    const bool ps_reserved = level >= 4 || !leaf_allowed_[level];
    LevelInfo& li = levels_[level];
    li.table_rsvd = TableL::reserved_mask(0) | haw_bits(kTableAddr) | (ps_reserved ? kPs : 0);
    if (level <= 3) {
      li.leaf_rsvd = kLeafRsvd[level] | leaf_cap_rsvd | haw_bits(kLeafAddr[level]);
      li.leaf_ps = leaf_allowed_[level] ? kPs : 0;
    }
  }
}

std::uint64_t Walker::haw_bits(std::uint64_t field_mask) const {
  return config_.haw >= 64 ? 0 : field_mask & ~((std::uint64_t{1} << config_.haw) - 1);
}

Walker::SlRead Walker::read_sl_entry(PhysAddr table, unsigned level, unsigned idx) const {
  const PhysAddr pte_pa = table + 8 * std::uint64_t{idx};
  if (!readable(pte_pa, 8)) return {};
  // What memory holds (with ECAP.C = 0 never through a host pointer: CPU-cached stores are
  // skipped).
  const std::uint64_t* w = mem_.frame_for_memory_read(table);
  if (w == nullptr) {
    // Never written (zeros), no frame address, or ECAP.C = 0.
    return {true, mem_.read64_memory(pte_pa)};
  }
  hints_[level] = Hint{table, w};
  return {true, vtd::load_entry(w, idx)};
}

vtd::layout::Words<2> Walker::read_entry128(PhysAddr pa) const {
  return {mem_.read64_memory(pa), mem_.read64_memory(pa + 8)};
}

bool Walker::readable(PhysAddr pa, std::uint64_t len) const {
  const bool below_haw = config_.haw >= 64 || pa + len <= (std::uint64_t{1} << config_.haw);
  return below_haw && mem_.contains(pa, len);
}

Fault Walker::check_root(const vtd::layout::Words<2>& w) const {
  vtd::RootEntry root;
  root.w = w;
  if (root.present() == 0) return Fault::kRootNotPresent;
  if ((w[0] & root_rsvd_[0]) != 0 || (w[1] & root_rsvd_[1]) != 0) return Fault::kRootReserved;
  return Fault::kNone;
}

Fault Walker::decode_context(const vtd::layout::Words<2>& w, ContextInfo* out) const {
  *out = ContextInfo{};
  vtd::ContextEntry ce;
  ce.w = w;
  out->fpd = ce.fpd() != 0;
  if (ce.present() == 0) return Fault::kContextNotPresent;
  // DID bits beyond the 2^(4+2*ND) domains the unit advertises are treated as reserved, so a
  // driver whose DID allocator exceeds CAP.ND is caught instead of silently aliased.
  if ((w[0] & context_rsvd_[0]) != 0 || (w[1] & context_rsvd_[1]) != 0 ||
      ce.did() >= config_.domain_count()) {
    return Fault::kContextReserved;
  }
  const auto tt = static_cast<vtd::TranslationType>(ce.tt());
  const bool tt_ok = tt == vtd::TranslationType::kUntranslated ||
                     (tt == vtd::TranslationType::kDeviceTlb && config_.device_tlb) ||
                     (tt == vtd::TranslationType::kPassThrough && config_.pass_through);
  const unsigned levels = static_cast<unsigned>(ce.aw()) + 2;
  // AW must name a supported depth even for pass-through (VT-d spec §9.3).
  if (!tt_ok || !config_.supports_levels(levels)) return Fault::kContextInvalid;
  out->present = true;
  out->tt = static_cast<std::uint8_t>(ce.tt());
  out->levels = static_cast<std::uint8_t>(levels);
  out->did = static_cast<std::uint16_t>(ce.did());
  out->slptptr = ce.slptptr();
  const unsigned width = input_width(*out);
  out->beyond_width = width >= 64 ? 0 : ~((std::uint64_t{1} << width) - 1);
  return Fault::kNone;
}

Fault Walker::fetch_context(PhysAddr rta, std::uint16_t sid, ContextInfo* out) const {
  *out = ContextInfo{};
  const PhysAddr root_pa = rta + kEntry128Bytes * (sid >> 8);
  if (!readable(root_pa, 16)) return Fault::kRootTableInvalid;
  const vtd::layout::Words<2> root = read_entry128(root_pa);
  if (const Fault f = check_root(root); f != Fault::kNone) return f;
  vtd::RootEntry re;
  re.w = root;
  const PhysAddr ctx_pa = re.context_table() + kEntry128Bytes * (sid & 0xFF);
  if (!readable(ctx_pa, 16)) return Fault::kContextTableInvalid;
  return decode_context(read_entry128(ctx_pa), out);
}

Fault Walker::walk_with_psc(const ContextInfo& ctx, std::uint64_t iova, std::uint8_t need,
                            PagingStructureCache* psc, WalkResult* out) const {
  // Start below the deepest cached non-leaf entry, as a paging-structure cache lets hardware
  // (VT-d spec §6.2.4).
  for (unsigned l = 2; l <= ctx.levels; ++l) {
    if (const PscEntry* e = psc->find(ctx.did, l, iova)) {
      if ((need & ~e->perms) != 0) return fault_below_cached(iova, need, l - 1, e->next_table, out);
      return walk_from(ctx, iova, need, psc, l - 1, e->next_table, e->perms, out);
    }
  }
  return walk_from(ctx, iova, need, psc, ctx.levels, ctx.slptptr, kR | kW, out);
}

Fault Walker::fault_below_cached(std::uint64_t iova, std::uint8_t need, unsigned level,
                                 PhysAddr table, WalkResult* out) const {
  *out = WalkResult{};
  const SlRead r =
      read_sl_entry(table, level, static_cast<unsigned>((iova >> level_shift(level)) & 511));
  // Below a cached entry the level is never the top one: its table is a next table.
  if (!r.ok) return Fault::kNextTableInvalid;
  out->not_present = (r.pte & (kR | kW)) == 0;
  return (need & kPermWrite) != 0 ? Fault::kNoWrite : Fault::kNoRead;
}

bool Walker::root_context_table(const vtd::layout::Words<2>& w, PhysAddr* context_table) const {
  if (check_root(w) != Fault::kNone) return false;
  vtd::RootEntry re;
  re.w = w;
  *context_table = re.context_table();
  return true;
}

bool Walker::context_top_table(const vtd::layout::Words<2>& w, PhysAddr* table,
                               unsigned* levels) const {
  ContextInfo ctx;
  if (decode_context(w, &ctx) != Fault::kNone ||
      ctx.tt == static_cast<std::uint8_t>(vtd::TranslationType::kPassThrough)) {
    return false;
  }
  *table = ctx.slptptr;
  *levels = ctx.levels;
  return true;
}

Walker::SlRef Walker::sl_ref(unsigned level, std::uint64_t pte) const {
  SlRef r;
  if ((pte & (kR | kW)) == 0) return r;
  r.leaf = level == 1 || ((pte & kPs) != 0 && leaf_allowed_[level]);
  r.present = true;
  r.pa = r.leaf ? pte & kLeafAddr[level] : pte & kTableAddr;
  r.shift = r.leaf ? level_shift(level) : 12;
  return r;
}

void Walker::for_each_reachable(PhysAddr rta,
                                const std::function<void(PhysAddr, std::uint64_t)>& visit) const {
  // Whole 4 KiB tables are copied out once and decoded from the copy: much cheaper than entry-by-
  // entry reads.
  using Page = std::array<std::uint64_t, 512>;
  const auto load = [&](PhysAddr table, Page* page) {
    if (!readable(table, vtd::kPageSize)) return false;
    mem_.read_memory(table, page->data(), vtd::kPageSize);
    return true;
  };
  visit(rta, vtd::kPageSize);
  std::unordered_set<std::uint64_t> seen;  // (table | level) pairs already visited
  std::vector<Page> pages(6);              // one buffer per level, plus root/context at index 0
  std::function<void(PhysAddr, unsigned)> visit_table = [&](PhysAddr table, unsigned level) {
    if (!seen.insert(table | level).second) return;
    visit(table, vtd::kPageSize);
    Page& page = pages[level];
    if (!load(table, &page)) return;
    for (const std::uint64_t pte : page) {
      const SlRef r = sl_ref(level, pte);
      if (!r.present) continue;
      if (r.leaf) {
        visit(r.pa, std::uint64_t{1} << r.shift);
      } else {
        visit_table(r.pa, level - 1);
      }
    }
  };
  Page root_table;
  if (!load(rta, &root_table)) return;
  for (unsigned bus = 0; bus < 256; ++bus) {
    PhysAddr context_table = 0;
    if (!root_context_table(
            {root_table[kEntry128Words * bus], root_table[kEntry128Words * bus + 1]},
            &context_table)) {
      continue;
    }
    visit(context_table, vtd::kPageSize);
    if (!load(context_table, &pages[0])) continue;
    const Page contexts = pages[0];
    for (unsigned devfn = 0; devfn < 256; ++devfn) {
      PhysAddr top = 0;
      unsigned levels = 0;
      if (context_top_table(
              {contexts[kEntry128Words * devfn], contexts[kEntry128Words * devfn + 1]}, &top,
              &levels)) {
        visit_table(top, levels);
      }
    }
  }
}

}  // namespace kniommu::hw
