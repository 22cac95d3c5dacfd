#include "table_builder.h"

#include "vtd/address_math.h"
#include "vtd/caps.h"
#include "vtd/entries.h"

#define F BOOST_HANA_STRING

namespace kniommu::audit::testing {
namespace {
namespace hana = boost::hana;
using SlTable = decltype(vtd::kSlTableEntry);

std::uint64_t next_table(std::uint64_t entry) { return SlTable::get({entry}, F("ADDR")) << 12; }
bool present(std::uint64_t entry) {
  return SlTable::get({entry}, F("R")) != 0 || SlTable::get({entry}, F("W")) != 0;
}
}  // namespace

TableBuilder::TableBuilder() {
  vtd::CapReg cap;
  cap.set_nd(6).set_sagaw(0x4).set_mgaw(47).set_sllps(0x3).set_psi(1).set_mamv(18);
  vtd::EcapReg ecap;
  ecap.set_qi(1).set_c(1);
  snapshot_.regs.cap = cap.raw();
  snapshot_.regs.ecap = ecap.raw();
  snapshot_.regs.gsts =
      decltype(vtd::kGstsReg)::encode(hana::make_pair(F("TES"), 1), hana::make_pair(F("RTPS"), 1),
                                      hana::make_pair(F("QIES"), 1))[0];
  root_ = new_page();
  snapshot_.regs.rtaddr =
      decltype(vtd::kRtaddrReg)::encode(hana::make_pair(F("RTA"), root_ >> 12))[0];
}

std::uint64_t TableBuilder::new_page() {
  const std::uint64_t pa = next_page_;
  next_page_ += 4096;
  snapshot_.pages[pa] = {};
  return pa;
}

std::uint64_t TableBuilder::read64(std::uint64_t pa) const {
  const auto& page = snapshot_.pages.at(pa & ~std::uint64_t{0xFFF});
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i)
    v |= static_cast<std::uint64_t>(page[(pa & 0xFFF) + i]) << (8 * i);
  return v;
}

void TableBuilder::write64(std::uint64_t pa, std::uint64_t value) {
  auto& page = snapshot_.pages.at(pa & ~std::uint64_t{0xFFF});
  for (std::size_t i = 0; i < 8; ++i)
    page[(pa & 0xFFF) + i] = static_cast<std::uint8_t>(value >> (8 * i));
}

std::uint64_t TableBuilder::context_entry_pa(std::uint16_t bdf) const {
  vtd::RootEntry root;
  root.w = {read64(root_ + (bdf >> 8) * 16u), read64(root_ + (bdf >> 8) * 16u + 8)};
  return root.context_table() + (bdf & 0xFFu) * 16u;
}

void TableBuilder::attach(std::uint16_t bdf, std::uint16_t did, std::uint64_t slptptr,
                          unsigned levels, unsigned tt) {
  const std::uint64_t root_pa = root_ + (bdf >> 8) * 16u;
  vtd::RootEntry root;
  root.w = {read64(root_pa), read64(root_pa + 8)};
  if (root.present() == 0) {
    root.set_present(1).set_context_table(new_page());
    write64(root_pa, root.w[0]);
    write64(root_pa + 8, root.w[1]);
  }
  vtd::ContextEntry ctx;
  ctx.set_present(1)
      .set_tt(tt)
      .set_slptptr(slptptr)
      .set_aw(vtd::aw_for_levels(levels))
      .set_did(did);
  const std::uint64_t pa = context_entry_pa(bdf);
  write64(pa, ctx.w[0]);
  write64(pa + 8, ctx.w[1]);
}

std::uint64_t TableBuilder::sl_table_entry(std::uint64_t next, std::uint8_t perms) {
  return decltype(vtd::kSlTableEntry)::encode(hana::make_pair(F("R"), perms & 1),
                                              hana::make_pair(F("W"), perms >> 1),
                                              hana::make_pair(F("ADDR"), next >> 12))[0];
}

std::uint64_t TableBuilder::sl_leaf(std::uint64_t pa, std::uint8_t perms, unsigned level) {
  const auto r = hana::make_pair(F("R"), perms & 1);
  const auto w = hana::make_pair(F("W"), perms >> 1);
  if (level == 1)
    return decltype(vtd::kSlPte4K)::encode(r, w, hana::make_pair(F("ADDR"), pa >> 12))[0];
  if (level == 2) {
    return decltype(vtd::kSlPte2M)::encode(r, w, hana::make_pair(F("PS"), 1),
                                           hana::make_pair(F("ADDR"), pa >> 21))[0];
  }
  return decltype(vtd::kSlPte1G)::encode(r, w, hana::make_pair(F("PS"), 1),
                                         hana::make_pair(F("ADDR"), pa >> 30))[0];
}

std::uint64_t TableBuilder::entry_pa(std::uint64_t root, std::uint64_t iova, unsigned level,
                                     unsigned levels) const {
  std::uint64_t table = root;
  for (unsigned l = levels; l > level; --l) {
    table = next_table(read64(table + vtd::level_index<vtd::U64Ops>(iova, l) * 8));
  }
  return table + vtd::level_index<vtd::U64Ops>(iova, level) * 8;
}

std::uint64_t TableBuilder::map(std::uint64_t root, std::uint64_t iova, std::uint64_t pa,
                                std::uint8_t perms, unsigned leaf_level, unsigned levels) {
  std::uint64_t table = root;
  for (unsigned l = levels; l > leaf_level; --l) {
    const std::uint64_t at = table + vtd::level_index<vtd::U64Ops>(iova, l) * 8;
    std::uint64_t e = read64(at);
    if (!present(e)) {
      e = sl_table_entry(new_page(), 3);
      write64(at, e);
    }
    table = next_table(e);
  }
  const std::uint64_t at = table + vtd::level_index<vtd::U64Ops>(iova, leaf_level) * 8;
  write64(at, sl_leaf(pa, perms, leaf_level));
  return at;
}

}  // namespace kniommu::audit::testing
