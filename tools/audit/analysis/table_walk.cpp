#include "analysis/table_walk.h"

#include <algorithm>
#include <tuple>

#include "analysis/names.h"
#include "vtd/address_math.h"
#include "vtd/caps.h"
#include "vtd/entries.h"
#include "vtd/sl_fields.h"
#include "vtd/sl_format.h"
#include "vtd/sl_masks.h"

namespace kniommu::audit {
namespace {

using vtd::layout::mask_of;  // the one field-mask helper, shared with the emulator

constexpr std::uint64_t kCtpMask = mask_of(vtd::kRootEntry, BOOST_HANA_STRING("CTP"));
constexpr std::uint64_t kSlptptrMask = mask_of(vtd::kContextEntry, BOOST_HANA_STRING("SLPTPTR"));
// The SL entry fields the walk reads, from the shared formats (vtd/sl_fields.h).
constexpr std::uint64_t kSlReadMask = vtd::sl_fields::kRead;
constexpr std::uint64_t kSlWriteMask = vtd::sl_fields::kWrite;
constexpr std::uint64_t kSlTableAddrMask = vtd::sl_fields::kTableAddr;
constexpr const auto& kLeafAddrMask = vtd::sl_fields::kLeafAddr;  // by level 1..3
// One permission encoding: the audit's reach bits and the snapshot's buffer bits (a file format
// of the standard library only, so it spells them itself) are those of vtd::Perm.
static_assert(kRead == vtd::kPermRead && kWrite == vtd::kPermWrite &&
              snapshot::kPermRead == vtd::kPermRead && snapshot::kPermWrite == vtd::kPermWrite);
constexpr std::size_t kEntries128 = 256;
constexpr std::size_t kEntries64 = 512;

std::uint64_t load64(const std::uint8_t* page, std::size_t offset) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(page[offset + i]) << (8 * i);
  return v;
}

class Walker {
 public:
  Walker(const snapshot::Registers& regs, PageSource& source, unsigned haw)
      : regs_(regs),
        source_(source),
        caps_(vtd::UnitCaps::decode(regs.cap, regs.ecap)),
        above_haw_(haw >= 64 ? 0 : ~layout_low_bits(haw)),
        masks_(vtd::derive_sl_masks(vtd::SlFormat{haw, caps_.ecap.sc() != 0, caps_.ecap.dt() != 0,
                                                  caps_.cap.superpage_2m(),
                                                  caps_.cap.superpage_1g()})) {}

  TableWalk run() {
    using Gsts = decltype(vtd::kGstsReg);
    using Rtaddr = decltype(vtd::kRtaddrReg);
    const vtd::layout::Words<1> gsts{regs_.gsts};
    const vtd::layout::Words<1> rtaddr{regs_.rtaddr};
    out_.translation_enabled = Gsts::get(gsts, BOOST_HANA_STRING("TES")) != 0;
    if (!out_.translation_enabled) {
      add({ViolationKind::kTranslationDisabled,
           "GSTS.TES is clear: DMA is not remapped, every device reaches all memory"});
    }
    if (Rtaddr::get(rtaddr, BOOST_HANA_STRING("TTM")) != 0) {
      add({ViolationKind::kInvalidEntry,
           "RTADDR.TTM is not legacy mode; only legacy tables are audited"});
      return std::move(out_);
    }
    out_.root_table = Rtaddr::get(rtaddr, BOOST_HANA_STRING("RTA")) << vtd::kPageShift;
    if (out_.root_table != 0 || out_.translation_enabled) root_table();
    return std::move(out_);
  }

 private:
  static constexpr std::uint64_t layout_low_bits(unsigned w) { return vtd::layout::low_bits(w); }

  void add(Violation v) { out_.findings.push_back(std::move(v)); }

  const std::uint8_t* need(std::uint64_t pa, const std::string& what) {
    const std::uint8_t* p = source_.page(pa);
    if (p == nullptr) {
      Violation v{ViolationKind::kMissingPage, what + " at " + hex(pa) + " is not in the snapshot"};
      v.pa = pa;
      add(std::move(v));
    }
    return p;
  }

  void root_table() {
    const std::uint8_t* root = need(out_.root_table, "root table");
    if (root == nullptr) return;
    out_.structure_pages.insert(out_.root_table);
    for (std::size_t bus = 0; bus < kEntries128; ++bus) {
      vtd::RootEntry e;
      e.w = {load64(root, bus * 16), load64(root, bus * 16 + 8)};
      if (e.present() == 0) continue;
      const std::uint64_t rsvd_lo =
          (e.w[0] & decltype(vtd::kRootEntry)::reserved_mask(0)) | (e.w[0] & kCtpMask & above_haw_);
      const std::uint64_t rsvd_hi = e.w[1] & decltype(vtd::kRootEntry)::reserved_mask(1);
      if (rsvd_lo != 0 || rsvd_hi != 0) {
        reserved("root entry of bus " + std::to_string(bus), out_.root_table + bus * 16,
                 rsvd_lo | rsvd_hi);
        continue;  // the unit faults every request of this bus
      }
      context_table(static_cast<std::uint16_t>(bus), e.context_table());
    }
  }

  void context_table(std::uint16_t bus, std::uint64_t pa) {
    const std::uint8_t* table = need(pa, "context table of bus " + std::to_string(bus));
    if (table == nullptr) return;
    out_.structure_pages.insert(pa);
    for (std::size_t devfn = 0; devfn < kEntries128; ++devfn) {
      vtd::ContextEntry e;
      e.w = {load64(table, devfn * 16), load64(table, devfn * 16 + 8)};
      if (e.present() == 0) continue;
      const auto bdf = static_cast<std::uint16_t>((bus << 8) | devfn);
      const std::uint64_t entry_pa = pa + devfn * 16;
      const std::string where = "context entry of " + bdf_name(bdf);
      const std::uint64_t rsvd = (e.w[0] & decltype(vtd::kContextEntry)::reserved_mask(0)) |
                                 (e.w[0] & kSlptptrMask & above_haw_) |
                                 (e.w[1] & decltype(vtd::kContextEntry)::reserved_mask(1));
      if (rsvd != 0) {
        reserved(where, entry_pa, rsvd, bdf);
        continue;
      }
      ContextInfo info{bdf, static_cast<std::uint16_t>(e.did()), static_cast<unsigned>(e.aw()) + 2,
                       e.slptptr(), false};
      const auto tt = e.tt();
      if (!valid_context(where, entry_pa, info, tt)) continue;
      info.pass_through = tt == static_cast<std::uint64_t>(vtd::TranslationType::kPassThrough);
      if (info.did >= caps_.cap.domain_count()) {
        // Undefined hardware behaviour: report it, and audit the reach as if it worked.
        invalid(where + ": DID " + std::to_string(info.did) + " is beyond CAP.ND (" +
                    std::to_string(caps_.cap.domain_count()) + " domains)",
                entry_pa, bdf);
      }
      out_.contexts.push_back(info);
      if (!info.pass_through) tree(info);
    }
  }

  // TT and AW checks: an entry failing them makes the unit fault (reason 0x3), so no reach.
  bool valid_context(const std::string& where, std::uint64_t entry_pa, const ContextInfo& info,
                     std::uint64_t tt) {
    using TT = vtd::TranslationType;
    if (tt == 3 || (tt == static_cast<std::uint64_t>(TT::kDeviceTlb) && caps_.ecap.dt() == 0) ||
        (tt == static_cast<std::uint64_t>(TT::kPassThrough) && caps_.ecap.pt() == 0)) {
      invalid(where + ": translation type " + std::to_string(tt) + " not supported by ECAP",
              entry_pa, info.bdf);
      return false;
    }
    if (info.levels < 3 || info.levels > vtd::kMaxLevels ||
        !caps_.cap.supports_levels(info.levels)) {
      invalid(where + ": " + std::to_string(info.levels) + "-level tables not in CAP.SAGAW",
              entry_pa, info.bdf);
      return false;
    }
    return true;
  }

  void tree(const ContextInfo& info) {
    const auto key = std::make_pair(info.slptptr, info.levels);
    if (out_.trees.contains(key)) return;
    TreeReach& t = out_.trees[key];
    std::vector<Range> raw;
    std::vector<Mapping> leaves;
    visited_.clear();
    sl_table(info, info.slptptr, info.levels, kRead | kWrite, 0, t, raw, leaves);
    t.reach = normalize(std::move(raw));
    t.mappings = merge_mappings(std::move(leaves));
  }

  void sl_table(const ContextInfo& info, std::uint64_t pa, unsigned level, std::uint8_t perms,
                std::uint64_t iova, TreeReach& t, std::vector<Range>& raw,
                std::vector<Mapping>& leaves) {
    // A table reached again with the same permissions adds no new physical pages, only new
    // IOVAs for them, so each (page, level, perms) is walked once: hostile snapshots with
    // tables pointing at each other cannot make the audit exponential. The IOVAs of the second
    // window are the first window's leaves shifted, copied up to kMaxMappingLeaves.
    const auto key = std::make_tuple(pa, level, perms);
    if (const auto seen = visited_.find(key); seen != visited_.end()) {
      const auto [first_iova, begin, end] = seen->second;
      for (std::size_t i = begin; i < end; ++i) {
        if (leaves.size() >= kMaxMappingLeaves) {
          t.mappings_truncated = true;
          break;
        }
        Mapping m = leaves[i];
        m.iova = m.iova - first_iova + iova;
        leaves.push_back(m);
      }
      return;
    }
    const auto slot =
        visited_.emplace(key, std::make_tuple(iova, leaves.size(), leaves.size())).first;
    const std::uint8_t* table =
        need(pa, "level-" + std::to_string(level) + " table of DID " + std::to_string(info.did));
    if (table == nullptr) return;
    t.table_pages.insert(pa);
    for (std::size_t i = 0; i < kEntries64; ++i) {
      const std::uint64_t e = load64(table, i * 8);
      const auto here = static_cast<std::uint8_t>(((e & kSlReadMask) != 0 ? kRead : 0) |
                                                  ((e & kSlWriteMask) != 0 ? kWrite : 0));
      if (here == 0) continue;  // not present: SL entries have no P bit, R|W is presence
      const std::uint64_t rsvd = e & masks_.reserved(level, e);
      if (rsvd != 0) {
        reserved("level-" + std::to_string(level) + " entry " + std::to_string(i) + " of DID " +
                     std::to_string(info.did),
                 pa + i * 8, rsvd, info.bdf, info.did);
        continue;
      }
      const auto effective = static_cast<std::uint8_t>(perms & here);  // R/W AND over the walk
      if (effective == 0) continue;
      const unsigned shift = vtd::level_shift(level);
      const std::uint64_t here_iova = iova | (static_cast<std::uint64_t>(i) << shift);
      if (vtd::SlReservedMasks::is_leaf(level, e)) {
        const std::uint64_t pages = std::uint64_t{1} << (9 * (level - 1));
        raw.push_back({e & kLeafAddrMask[level], pages, effective});
        if (leaves.size() < kMaxMappingLeaves) {
          leaves.push_back({here_iova, e & kLeafAddrMask[level], pages, effective});
        } else {
          t.mappings_truncated = true;
        }
      } else {
        sl_table(info, e & kSlTableAddrMask, level - 1, effective, here_iova, t, raw, leaves);
      }
    }
    std::get<2>(slot->second) = leaves.size();  // std::map iterators survive the inserts below
  }

  void reserved(const std::string& where, std::uint64_t pa, std::uint64_t bits,
                std::optional<std::uint16_t> bdf = {}, std::optional<std::uint16_t> did = {}) {
    Violation v{ViolationKind::kReservedBits, where + " has reserved bits " + hex(bits) + " set"};
    v.pa = pa;
    v.bdf = bdf;
    if (did) v.dids.push_back(*did);
    add(std::move(v));
  }

  void invalid(const std::string& message, std::uint64_t pa, std::uint16_t bdf) {
    Violation v{ViolationKind::kInvalidEntry, message};
    v.pa = pa;
    v.bdf = bdf;
    add(std::move(v));
  }

  const snapshot::Registers& regs_;
  PageSource& source_;
  vtd::UnitCaps caps_;  // the decoder the driver uses too
  std::uint64_t above_haw_;
  vtd::SlReservedMasks masks_;
  // (table page, level, perms) -> (IOVA of its first window, its leaves in `leaves`: [begin, end)).
  std::map<std::tuple<std::uint64_t, unsigned, std::uint8_t>,
           std::tuple<std::uint64_t, std::size_t, std::size_t>>
      visited_;
  TableWalk out_;
};

}  // namespace

std::vector<Mapping> merge_mappings(std::vector<Mapping> mappings) {
  std::sort(mappings.begin(), mappings.end(), [](const Mapping& a, const Mapping& b) {
    return a.iova != b.iova ? a.iova < b.iova : a.pa < b.pa;
  });
  std::vector<Mapping> out;
  for (const auto& m : mappings) {
    if (!out.empty()) {
      Mapping& last = out.back();
      const std::uint64_t bytes = last.pages * 4096;
      if (last.perms == m.perms && last.iova + bytes == m.iova && last.pa + bytes == m.pa) {
        last.pages += m.pages;
        continue;
      }
    }
    out.push_back(m);
  }
  return out;
}

TableWalk walk_tables(const snapshot::Registers& regs, PageSource& source, unsigned haw) {
  return Walker(regs, source, haw).run();
}

unsigned default_haw(const snapshot::Registers& regs) {
  return vtd::UnitCaps::decode(regs.cap, regs.ecap).cap.mgaw_bits();
}

const std::uint8_t* SnapshotPages::page(std::uint64_t pa) {
  const auto it = snapshot_.pages.find(pa);
  return it == snapshot_.pages.end() ? nullptr : it->second.data();
}

}  // namespace kniommu::audit
