// System::digest: everything a failing call must leave unchanged (fault-injection tests): frames in
// use, DIDs, every handle table, every domain's IOVA ranges and attachments, and every present
// entry of the translation structures as the hardware would walk them from the root table.
#include "kos/system.h"

namespace kniommu::kos {
namespace {

class Hasher {
 public:
  void add(std::uint64_t v) { h_ ^= v + 0x9E3779B97F4A7C15ull + (h_ << 6) + (h_ >> 2); }
  std::uint64_t value() const { return h_; }

 private:
  std::uint64_t h_ = 0xCBF29CE484222325ull;
};

constexpr std::uint64_t kAddr = 0x000FFFFFFFFFF000ull;

void hash_sl_table(const vtd::PhysMem& mem, vtd::PhysAddr table, unsigned level, Hasher& h) {
  for (std::uint64_t i = 0; i < 512; ++i) {
    const std::uint64_t e = mem.read64(table + i * 8);
    if ((e & 3) == 0) continue;  // no R/W: not present
    h.add(table + i * 8);
    h.add(e);
    const bool leaf = level == 1 || ((e & 0x80) != 0 && level <= 3);
    if (!leaf) hash_sl_table(mem, e & kAddr, level - 1, h);
  }
}

}  // namespace

System::Digest System::digest() {
  std::lock_guard lock(mu_);
  Digest d;
  Hasher h;
  d.frames_in_use = hw_->frames_in_use();
  h.add(d.frames_in_use);
  for (const auto& [pid, p] : processes_) {
    h.add(pid);
    h.add(p->handles.size());
    const auto& entries = p->handles.entries();
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].kind == ObjectKind::None) continue;
      h.add(i + 1);
      h.add(static_cast<std::uint64_t>(entries[i].kind));
      h.add(entries[i].revoked ? 1 : 0);
      h.add(reinterpret_cast<std::uintptr_t>(entries[i].object));
    }
    h.add(reinterpret_cast<std::uintptr_t>(p->auto_domain));
    for (const auto& [key, dom] : p->domains) {
      h.add(dom->did());
      for (std::uint16_t bdf : dom->devices()) h.add(bdf);
      for (const auto& [start, end] : dom->iova().ranges()) {
        h.add(start);
        h.add(end);
      }
    }
  }
  h.add(buffers_.size());
  if (driver_ != nullptr) {
    d.dids_in_use = driver_->dids().allocated();
    const vtd::PhysMem& mem = hw_->mem();
    const auto& ctx = driver_->context_tables();
    for (unsigned sid = 0; sid < 65536; ++sid) {
      if ((sid & 0xFF) == 0 && !ctx.has_bus(static_cast<std::uint8_t>(sid >> 8))) {
        sid += 255;
        continue;
      }
      const vtd::driver::ContextEntryValue v = ctx.read(static_cast<std::uint16_t>(sid));
      if (!v.present) continue;
      h.add(sid);
      h.add(v.did);
      h.add(v.slptptr);
      hash_sl_table(mem, v.slptptr, v.aw + 2, h);
    }
    // Tables of domains with no device attached are not reachable from the root; hash them too.
    for (const auto& [pid, p] : processes_)
      for (const auto& [key, dom] : p->domains)
        if (dom->table_root() != 0)
          hash_sl_table(mem, dom->table_root(), driver_->caps().levels, h);
  }
  h.add(d.dids_in_use);
  d.value = h.value();
  return d;
}

}  // namespace kniommu::kos
