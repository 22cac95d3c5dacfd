#include "refinement_check.h"

#include <set>
#include <sstream>

#include "hw_view.h"
#include "text.h"
#include "state_checks.h"

namespace kniommu::conformance {
namespace {

uint8_t perm_of(uint32_t flags) { return static_cast<uint8_t>(flags & (kPermR | kPermW)); }

// Buffer `id`'s blocks of 2^order pages merged into runs of consecutive frames (offsets from the
// buffer's first byte, no permission): built once per buffer, not block by block on every
// rebuild of the expectation (a 2 MiB buffer of 4 KiB blocks is up to 512 of them).
const Runs& frame_runs(const Sut& sut, model::BufferId id, uint32_t order,
                       const std::vector<PhysBlock>& blocks) {
  const auto [it, fresh] = sut.expectation.frame_runs.try_emplace(id);
  Sut::Expectation::FrameRuns& f = it->second;
  if (!fresh && f.order == order) return f.runs;
  f.order = order;
  f.runs.clear();
  const uint64_t block_pages = uint64_t{1} << order;
  for (size_t j = 0; j < blocks.size(); ++j) {
    if (j != 0 && f.runs.back().pa + f.runs.back().pages * kPage == blocks[j].pa) {
      f.runs.back().pages += block_pages;
      continue;
    }
    f.runs.push_back(Run{j * block_pages * kPage, block_pages, blocks[j].pa, 0});
  }
  return f.runs;
}

// Partition: same model domain <=> same DID and same table root.
void check_attachments(const model::State& s, const HwView& hw, std::vector<std::string>& out) {
  std::map<uint16_t, model::DomainSerial> model_attached;
  for (const auto& [id, d] : s.domains)
    for (model::Bdf b : d.devices) model_attached[b] = id;
  for (const auto& [bdf, dom] : model_attached)
    if (!hw.devices.count(bdf))
      out.push_back(cat("device ", bdf, " attached in the model to domain ", dom,
                        " but its context entry is not present"));
  for (const auto& [bdf, dev] : hw.devices)
    if (!model_attached.count(bdf))
      out.push_back(cat("device ", bdf, " has a present context entry (DID ", dev.did,
                        ") but is not attached in the model"));
  for (const auto& [b1, d1] : model_attached) {
    for (const auto& [b2, d2] : model_attached) {
      if (b2 <= b1 || !hw.devices.count(b1) || !hw.devices.count(b2)) continue;
      const HwDevice& h1 = hw.devices.at(b1);
      const HwDevice& h2 = hw.devices.at(b2);
      if (d1 == d2 && (h1.did != h2.did || h1.root != h2.root))
        out.push_back(cat("devices ", b1, " and ", b2, " share model domain ", d1,
                          " but differ in DID/table root"));
      if (d1 != d2 && (h1.did == h2.did || h1.root == h2.root))
        out.push_back(cat("devices ", b1, " and ", b2, " are in different model domains but share ",
                          h1.did == h2.did ? "a DID" : "a table root"));
    }
  }
}

void check_translations(const model::State& s, const HwView& hw,
                        const std::map<model::DomainSerial, Runs>& expected,
                        std::vector<std::string>& out) {
  for (const auto& [bdf, dev] : hw.devices) {
    auto dom = model::attachment(s, bdf);
    if (!dom) continue;  // reported by check_attachments
    const Runs& want = expected.at(*dom);
    if (dev.runs != want) {
      std::ostringstream os;
      os << std::hex << "device 0x" << bdf << " reaches " << dev.runs << " but the model's domain "
         << std::dec << *dom << " grants " << want;
      out.push_back(os.str());
    }
  }
}

// Every cached translation must be one the model allows now.
void check_caches(const Sut& sut, const HwView& hw,
                  const std::map<model::DomainSerial, Runs>& expected,
                  std::vector<std::string>& out) {
  if (sut.qemu()) {  // QEMU's context cache and IOTLB are not visible from outside
    count_skip("cache contents vs model (no cache snapshot on QEMU)");
    return;
  }
  size_t count = 0;
  if (sut.api().cache_snapshot(sut.session(), nullptr, 0, &count) != rcOk) {
    out.push_back("cache_snapshot failed");
    return;
  }
  std::vector<KnSimCacheEntry>& entries = sut.cache_entries;  // capacity kept between checks
  entries.resize(count);
  if (count != 0 &&
      sut.api().cache_snapshot(sut.session(), entries.data(), entries.size(), &count) != rcOk) {
    out.push_back("cache_snapshot failed");
    return;
  }
  entries.resize(std::min(count, entries.size()));
  // DID -> model domain, through the context entries in memory (what the hardware would use).
  std::map<uint16_t, model::DomainSerial> did_domain;
  for (const auto& [bdf, dev] : hw.devices)
    if (auto dom = model::attachment(sut.model, bdf)) did_domain[dev.did] = *dom;
  for (const KnSimCacheEntry& e : entries) {
    if (e.kind == 0) {
      // A cached not-present entry (CM=1 allows it) only makes requests fault; if it outlives an
      // attach, the DMA probes see the fault the model does not expect.
      if (e.pa == 0) continue;
      auto it = hw.devices.find(e.sid);
      const bool attached = model::attachment(sut.model, e.sid).has_value();
      if (!attached || it == hw.devices.end() || it->second.did != e.did ||
          it->second.root != (e.pa & ~uint64_t{0xFFF}))
        out.push_back(cat("context cache holds sid ", e.sid, " -> DID ", e.did, " table ", e.pa,
                          " which the model does not allow (attached: ", attached, ")"));
      continue;
    }
    if (e.perms == 0) continue;  // a cached fault (CM=1) only restricts
    // Entries of a DID no present context entry uses cannot be reached by any request now; they
    // are judged when a device gets attached with that DID.
    auto it = did_domain.find(e.did);
    if (it == did_domain.end()) continue;
    const uint64_t pages = e.size / kPage;
    if (!covers(expected.at(it->second), e.iova, pages, e.pa, e.perms))
      out.push_back(cat("IOTLB holds DID ", e.did, " iova ", e.iova, " -> ", e.pa, " size ", e.size,
                        " perms ", static_cast<int>(e.perms), " which model domain ", it->second,
                        " does not grant"));
  }
}

}  // namespace

std::map<model::DomainSerial, Runs> expected_domain_runs(const model::State& s, const Sut& sut) {
  std::map<model::DomainSerial, Runs> runs;
  for (const auto& [id, d] : s.domains) runs[id];
  for (const auto& [gid, g] : s.grants) {
    if (!g.domain) continue;
    const model::Buffer& b = s.buffers.at(g.buffer);
    auto pit = sut.phys.find(g.buffer);
    if (pit == sut.phys.end()) continue;
    // The grant's IOVA blocks are contiguous: each run of consecutive frames is one run of the
    // grant (normalize would merge its blocks the same way).
    Runs& r = runs[*g.domain];
    for (const Run& f : frame_runs(sut, g.buffer, b.order, pit->second))
      r.push_back(Run{g.iova + f.iova, f.pages, f.pa, perm_of(b.flags)});
  }
  for (auto& [id, r] : runs) r = normalize(std::move(r));
  return runs;
}

namespace {

// What expected_domain_runs reads, except the blocks of each buffer, which are fixed when the
// buffer is created (Sut::phys; buffer ids are never reused): the domains, and every associated
// grant's domain, IOVA, buffer, block order and permission.
void expectation_key(const model::State& s, const Sut& sut, std::vector<uint64_t>& key) {
  key.clear();  // keeps its capacity: built after every command
  key.reserve(s.domains.size() + 5 * s.grants.size() + 1);
  for (const auto& [id, d] : s.domains) key.push_back(id);
  key.push_back(~uint64_t{0});
  for (const auto& [gid, g] : s.grants) {
    if (!g.domain) continue;
    const model::Buffer& b = s.buffers.at(g.buffer);
    const auto pit = sut.phys.find(g.buffer);
    key.insert(key.end(), {uint64_t{gid}, uint64_t{*g.domain}, g.iova,
                           (uint64_t{g.buffer} << 32) | (uint64_t{b.order} << 8) | perm_of(b.flags),
                           pit == sut.phys.end() ? ~uint64_t{0} : pit->second.size()});
  }
}

// The expectation of the last check, rebuilt only when its inputs changed (most commands leave
// every grant alone; a 2 MiB buffer of 4 KiB blocks is 512 runs to build and normalize).
const std::map<model::DomainSerial, Runs>& expected_now(const Sut& sut) {
  Sut::Expectation& e = sut.expectation;
  expectation_key(sut.model, sut, e.next_key);
  if (!e.valid || e.key != e.next_key) {
    e.runs = expected_domain_runs(sut.model, sut);
    std::swap(e.key, e.next_key);
    e.valid = true;
  }
  return e.runs;
}

// The model's invariants (model::check_invariants), looked at again only when the state differs
// from the one they last held in: probes, queries and failing calls change nothing.
void check_model(const Sut& sut, std::vector<std::string>& out) {
  Sut::CheckedModel& last = sut.checked_model;
  if (last.valid && last.state == sut.model) return;
  const std::vector<std::string> violated = model::check_invariants(sut.model);
  for (const std::string& inv : violated) out.push_back("model invariant violated: " + inv);
  last.valid = violated.empty();
  if (last.valid) last.state = sut.model;  // assignment reuses the map nodes of the last copy
}

}  // namespace

std::vector<std::string> check_refinement(const Sut& sut) {
  std::vector<std::string> out;
  check_model(sut, out);
  if (sut.qemu()) {
    count_skip("use-after-free count (not observable on QEMU)");
  } else if (sut.api().use_after_free_count != nullptr) {
    const uint64_t uaf = sut.api().use_after_free_count(sut.session());
    if (uaf != 0) out.push_back(cat("hardware saw ", uaf, " frames freed while still reachable"));
  }
  check_protocol_violations(sut, out);
  check_registers(sut, out);
  if (!sut.model.config.iommu_enabled) {  // no tables: every DMA is untranslated
    check_frames(sut, HwView{}, out);
    return out;
  }
  const HwView hw = read_hw_view(sut.api(), sut.session(), &sut.view_cache);
  check_frames(sut, hw, out);
  record_hw_coverage(sut, hw);
  for (const std::string& e : hw.errors) out.push_back("hardware tables: " + e);
  const auto& expected = expected_now(sut);
  check_attachments(sut.model, hw, out);
  check_translations(sut.model, hw, expected, out);
  check_caches(sut, hw, expected, out);
  if (!out.empty() && sut.view_cache.last_view_reused()) {
    // The view took tables from the cache (frame write generations): a verifying view tells
    // whether the adapter's generations hid a write (the discrepancy stands either way).
    const std::vector<std::string> hidden = verify_kept_tables(sut);
    out.insert(out.end(), hidden.begin(), hidden.end());
  }
  return out;
}

std::vector<std::string> verify_kept_tables(const Sut& sut) {
  std::vector<std::string> out;
  if (!sut.view_cache.generations() || sut.api().phys_frame_generation == nullptr) return out;
  sut.view_cache.verify_next_view();
  for (const std::string& e : read_hw_view(sut.api(), sut.session(), &sut.view_cache).errors)
    if (e.find(kChangedWithoutGeneration) != std::string::npos)
      out.push_back("hardware tables: " + e);
  return out;
}

}  // namespace kniommu::conformance
