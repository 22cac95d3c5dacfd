#include "capture/capture.h"

#include "analysis/table_walk.h"
#include "vtd/formats.h"

namespace kniommu::snapshot {
namespace {

// Fetches table pages from simulated physical memory as the walk asks for them; the pages it
// fetched are the snapshot's pages.
class LivePages final : public audit::PageSource {
 public:
  LivePages(KnSimSystem* system, std::map<std::uint64_t, Page>& pages)
      : system_(system), pages_(pages) {}

  const std::uint8_t* page(std::uint64_t pa) override {
    if (const auto it = pages_.find(pa); it != pages_.end()) return it->second.data();
    Page content{};
    if (KnSimPhysRead(system_, pa, content.data(), content.size()) != rcOk) return nullptr;
    return pages_.emplace(pa, content).first->second.data();
  }

 private:
  KnSimSystem* system_;
  std::map<std::uint64_t, Page>& pages_;
};

}  // namespace

Retcode capture(KnSimSystem* system, Snapshot& out) {
  if (system == nullptr) return rcInvalidArgument;
  out.regs.cap = KnSimReadReg64(system, vtd::kRegCap);
  out.regs.ecap = KnSimReadReg64(system, vtd::kRegEcap);
  // GSTS is the 32-bit register at 0x1C; sim.h offers only naturally aligned 64-bit reads, so
  // read the qword at 0x18 (GCMD, write-only, reads as 0) and keep its upper half.
  static_assert(vtd::kRegGsts == vtd::kRegGcmd + 4);
  out.regs.gsts = KnSimReadReg64(system, vtd::kRegGcmd) >> 32;
  out.regs.rtaddr = KnSimReadReg64(system, vtd::kRegRtaddr);
  out.pages.clear();
  LivePages source(system, out.pages);
  (void)audit::walk_tables(out.regs, source,
                           audit::default_haw(out.regs));  // only the pages matter here
  return rcOk;
}

std::optional<std::uint16_t> attached_did(const Snapshot& snapshot, std::uint16_t bdf) {
  audit::SnapshotPages pages(snapshot);
  for (const auto& c :
       audit::walk_tables(snapshot.regs, pages, audit::default_haw(snapshot.regs)).contexts) {
    if (c.bdf == bdf) return c.did;
  }
  return std::nullopt;
}

}  // namespace kniommu::snapshot
