// Structure families and the probe protocol of the walker differential. Entries are written from
// the VT-d specification's formats directly (VT-d spec §9.1 root entry, §9.3 context entry, §9.8
// second-level paging entries), registers per §10.4 (GCMD, RTADDR, CCMD, IVA/IOTLB, FSTS, FRCD).
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <sstream>

#include "qemu/tests/walker_differential.h"
#include "vtd/address_math.h"

namespace kniommu::qemu::diff {
namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kRoot = 0x1000000;            // root table
constexpr std::uint64_t kContext = 0x1001000;         // bus 0 context table
constexpr std::uint64_t kTablesBase = 0x1100000;      // second-level tables, bump-allocated
constexpr std::uint64_t kScratchPa = 0x1300000;       // page P behind the scratch IOVA
constexpr std::uint64_t kScratchIova = 0x3FFFFFF000;  // top-level index 0 (4-level) / 255 (3-level)
constexpr std::uint64_t kDataBase = 0x1400000;        // 20 MiB: targets of translations
constexpr std::uint64_t kDataPages = 1024;
constexpr std::uint16_t kDev = 0x0008, kDev2 = 0x0010;
constexpr std::uint16_t kDid = 1, kDid2 = 2;
// Registers (VT-d spec §10.4; IVA/IOTLB at ECAP.IRO = 0xF0 as QEMU places them).
constexpr std::uint32_t kGcmd = 0x18, kRtaddr = 0x20, kCcmd = 0x28, kFsts = 0x34, kIva = 0xF0,
                        kIotlb = 0xF8, kFrcd = 0x220;
constexpr std::uint32_t kTe = 1u << 31, kSrtp = 1u << 30, kQie = 1u << 26;
constexpr std::uint32_t kIqh = 0x80, kIqt = 0x88, kIqa = 0x90;
constexpr std::uint64_t kQueue = 0x1200000, kWaitStatus = 0x1201000;  // ring and status word

std::uint64_t pattern_word(std::uint64_t pa) { return 0xD0D0000000000000ull ^ pa; }
std::uint64_t bit(unsigned b) { return std::uint64_t{1} << b; }

struct Mapping {
  std::uint64_t iova = 0;
  unsigned shift = 12;  // 12, 21, 30
  std::uint64_t pa = 0;
  unsigned perms = 3;  // bit0 R, bit1 W
};

struct Probe {
  std::uint16_t bdf = kDev;
  std::uint64_t iova = 0;
  std::size_t len = 8;
  bool write = false;
  std::vector<std::uint64_t> watch;  // PAs where the bytes may land / come from
  std::string name;
};

// A structure: the words to install, and how to poke at it.
struct Structure {
  std::string kind;
  std::string name;
  unsigned levels = 4;
  std::map<std::uint64_t, std::uint64_t> words;
  std::map<std::pair<std::size_t, unsigned>, std::uint64_t> entry;  // (mapping, level) -> PA
  std::uint64_t slptptr = 0;
  std::uint64_t next_table = kTablesBase;
  std::vector<Probe> probes;
  // Optional second act: changes + invalidation after the first probes, then more probes.
  std::function<void(Side&)> act2;
  std::vector<Probe> probes2;
};

unsigned shift_of(unsigned level) { return vtd::level_shift(level); }

std::uint64_t new_table(Structure& s) {
  const std::uint64_t t = s.next_table;
  s.next_table += kPage;
  return t;
}

void map(Structure& s, std::size_t idx, const Mapping& m) {
  std::uint64_t table = s.slptptr;
  const unsigned leaf_level = (m.shift - 12) / 9 + 1;
  for (unsigned level = s.levels; level > leaf_level; --level) {
    const std::uint64_t pa = table + ((m.iova >> shift_of(level)) & 511) * 8;
    s.entry[{idx, level}] = pa;
    auto it = s.words.find(pa);
    if (it == s.words.end()) it = s.words.emplace(pa, new_table(s) | 3).first;  // R+W non-leaf
    table = it->second & 0x000FFFFFFFFFF000ull;
  }
  const std::uint64_t pa = table + ((m.iova >> m.shift) & 511) * 8;
  s.entry[{idx, leaf_level}] = pa;
  s.words[pa] = m.pa | m.perms | (m.shift > 12 ? bit(7) : 0);
}

// Root + context for both devices (DID 1 and 2, same tables) + the scratch mapping.
Structure base(const std::string& kind, const std::string& name, unsigned levels) {
  Structure s;
  s.kind = kind;
  s.name = name;
  s.levels = levels;
  s.slptptr = new_table(s);
  s.words[kRoot] = kContext | 1;
  s.words[kRoot + 8] = 0;
  for (auto [bdf, did] : {std::pair{kDev, kDid}, std::pair{kDev2, kDid2}}) {
    const std::uint64_t ce = kContext + (bdf & 0xFF) * 16;
    s.words[ce] = s.slptptr | 1;  // P, TT=00 (untranslated requests only), FPD=0
    s.words[ce + 8] = (std::uint64_t{did} << 8) | (levels - 2);
  }
  map(s, 1000, Mapping{kScratchIova, 12, kScratchPa, 3});
  return s;
}

// IOVAs of probes never share the scratch mapping's top-level entry.
std::uint64_t probe_region(unsigned levels) { return levels == 4 ? bit(39) : 0; }

Probe probe(const Mapping& m, std::uint64_t off, std::size_t len, bool write,
            const std::string& name) {
  Probe p;
  p.iova = m.iova + off;
  p.len = len;
  p.write = write;
  p.watch = {m.pa + off};
  p.name = name;
  return p;
}

// ---- the protocol on one side ----

void install(Side& side, const Structure& s, const Structure* previous) {
  vtd::Mmio& r = side.mmio();
  r.write32(kGcmd, 0);  // TE off, then fresh tables
  if (previous != nullptr)
    for (std::uint64_t t = kTablesBase; t < previous->next_table; t += kPage)
      side.mem().write(t, std::vector<std::uint8_t>(kPage, 0).data(), kPage);
  side.mem().write(kContext, std::vector<std::uint8_t>(kPage, 0).data(), kPage);
  side.mem().write(kRoot, std::vector<std::uint8_t>(kPage, 0).data(), kPage);
  for (const auto& [pa, v] : s.words) side.mem().write64(pa, v);
  r.write64(kRtaddr, kRoot);
  r.write32(kGcmd, kSrtp);
  r.write64(kCcmd, bit(63) | (std::uint64_t{1} << 61));   // global context-cache invalidation
  r.write64(kIotlb, bit(63) | (std::uint64_t{1} << 60));  // global IOTLB invalidation
  r.write32(kGcmd, kTe);
  (void)r.read32(0x1C);  // GSTS: commands complete synchronously on both sides
}

void clear_fault(Side& side) {
  side.mmio().write32(kFrcd + 12, 0x80000000u);
  side.mmio().write32(kFsts, 0x7F);
}

Outcome read_fault(Side& side) {
  Outcome o;
  if ((side.mmio().read32(kFsts) & 2) == 0) return o;
  const std::uint64_t lo = side.mmio().read64(kFrcd);
  const std::uint64_t hi = side.mmio().read64(kFrcd + 8);
  if ((hi >> 63) == 0) return o;
  o.fault = true;
  o.address = lo;
  o.reason = static_cast<std::uint8_t>(hi >> 32);
  o.sid = static_cast<std::uint16_t>(hi);
  o.is_read = ((hi >> 62) & 1) != 0;
  return o;
}

void put_pattern(Side& side, std::uint64_t pa, std::size_t len) {
  for (std::uint64_t a = pa & ~7ull; a < pa + len; a += 8) side.mem().write64(a, pattern_word(a));
}

std::vector<std::uint8_t> bytes_at(Side& side, std::uint64_t pa, std::size_t len) {
  std::vector<std::uint8_t> b(len);
  side.mem().read(pa, b.data(), len);
  return b;
}

Outcome run_probe(Side& side, const Probe& p) {
  put_pattern(side, kScratchPa, p.len);
  for (std::uint64_t w : p.watch) put_pattern(side, w, p.len);
  if (p.write) {
    clear_fault(side);
    side.dma(p.bdf, kScratchIova, p.len, false);  // the device buffer now holds P's pattern
  }
  clear_fault(side);
  side.dma(p.bdf, p.iova, p.len, p.write);
  Outcome o = read_fault(side);
  if (p.write) {
    for (std::uint64_t w : p.watch) {
      const auto b = bytes_at(side, w, p.len);
      o.bytes.insert(o.bytes.end(), b.begin(), b.end());
    }
  } else if (!o.fault) {
    clear_fault(side);
    side.dma(p.bdf, kScratchIova, p.len, true);  // write the buffer back where we can see it
    const Outcome wb = read_fault(side);
    o.bytes = bytes_at(side, kScratchPa, p.len);
    if (wb.fault) o.bytes.push_back(0xEE);  // the write-back itself faulted
  }
  clear_fault(side);
  return o;
}

// ---- structure families ----

std::vector<Structure> malformed() {
  std::vector<Structure> out;
  for (unsigned levels : {3u, 4u}) {
    const std::string L = std::to_string(levels) + "L ";
    const Mapping m{probe_region(levels) + 0x40000000ull * 3 + 0x5000, 12, kDataBase + 7 * kPage,
                    3};
    auto one = [&](const std::string& kind, const std::string& name,
                   const std::function<void(Structure&)>& mutate, std::uint64_t iova_delta = 0) {
      Structure s = base(kind, L + name, levels);
      map(s, 0, m);
      mutate(s);
      Mapping pm = m;
      pm.iova += iova_delta;
      s.probes.push_back(probe(pm, 0x18, 16, false, "read"));
      s.probes.push_back(probe(pm, 0x40, 8, true, "write"));
      out.push_back(std::move(s));
    };
    one("valid", "4K leaf", [](Structure&) {});
    one("root", "not present", [](Structure& s) { s.words[kRoot] &= ~1ull; });
    for (unsigned b : {1u, 2u, 3u, 7u, 11u, 48u, 51u, 52u, 63u})
      one("root", "lo reserved bit " + std::to_string(b),
          [b](Structure& s) { s.words[kRoot] |= bit(b); });
    for (unsigned b : {0u, 12u, 63u})
      one("root", "hi reserved bit " + std::to_string(b),
          [b](Structure& s) { s.words[kRoot + 8] |= bit(b); });
    const std::uint64_t ce = kContext + (kDev & 0xFF) * 16;
    one("context", "not present", [ce](Structure& s) { s.words[ce] &= ~1ull; });
    one("context", "FPD=1, leaf not present", [&, ce](Structure& s) {
      s.words[ce] |= 2;
      s.words[s.entry.at({0, 1})] = 0;
    });
    for (unsigned b : {4u, 5u, 8u, 11u, 48u, 52u, 63u})
      one("context", "lo reserved bit " + std::to_string(b),
          [ce, b](Structure& s) { s.words[ce] |= bit(b); });
    for (unsigned b : {3u, 7u, 24u, 40u, 63u})
      one("context", "hi bit " + std::to_string(b),
          [ce, b](Structure& s) { s.words[ce + 8] |= bit(b); });
    for (unsigned aw = 0; aw < 8; ++aw)
      if (aw != levels - 2)
        one("context AW", "AW=" + std::to_string(aw),
            [ce, aw](Structure& s) { s.words[ce + 8] = (s.words[ce + 8] & ~7ull) | aw; });
    for (unsigned tt : {1u, 3u})
      one("context TT", "TT=" + std::to_string(tt),
          [ce, tt](Structure& s) { s.words[ce] = (s.words[ce] & ~0xCull) | (tt << 2); });
    for (unsigned level = levels; level >= 1; --level) {
      const std::string lv = "level " + std::to_string(level);
      one("SL not present", lv, [level](Structure& s) {
        s.words[s.entry.at({0, level})] &= ~3ull;
      });
      one("SL read-only", lv, [level](Structure& s) { s.words[s.entry.at({0, level})] &= ~2ull; });
      one("SL write-only", lv, [level](Structure& s) { s.words[s.entry.at({0, level})] &= ~1ull; });
      for (unsigned b : {2u, 3u, 4u, 5u, 6u, 7u, 8u, 10u, 11u, 47u, 48u, 51u, 52u, 59u, 62u, 63u})
        one("SL bit", lv + " bit " + std::to_string(b), [level, b](Structure& s) {
          s.words[s.entry.at({0, level})] |= bit(b);
        });
    }
    {  // A write to a read-only page with nothing cached: QEMU walks, checks and records.
      Structure s = base("SL read-only", L + "leaf, write before any read", levels);
      map(s, 0, Mapping{m.iova, 12, m.pa, 1});
      s.probes.push_back(probe(m, 0x40, 8, true, "write first"));
      s.probes.push_back(probe(m, 0x18, 16, false, "read"));
      out.push_back(std::move(s));
    }
    one(
        "beyond width", "IOVA bit " + std::to_string(30 + 9 * (levels - 2)), [](Structure&) {},
        bit(30 + 9 * (levels - 2)));
    one(
        "beyond width", "IOVA bit 63", [](Structure&) {}, bit(63));
  }
  // Superpage at the top level of a 4-level table (512 GiB: not in SLLPS) and 1 GiB in 3-level.
  for (unsigned levels : {3u, 4u}) {
    Structure s = base("superpage", std::to_string(levels) + "L PS=1 at top level", levels);
    const std::uint64_t iova = probe_region(levels) + 0x40000000ull * 5;
    map(s, 0, Mapping{iova, 12, kDataBase, 3});
    const std::uint64_t top = s.entry.at({0, levels});
    s.words[top] = 0 | 3 | bit(7);  // a leaf at the top level, base 0
    s.probes.push_back(
        Probe{kDev, iova + kDataBase + 0x100, 8, false, {kDataBase + 0x100}, "read"});
    s.probes.push_back(
        Probe{kDev, iova + kDataBase + 0x200, 8, true, {kDataBase + 0x200}, "write"});
    out.push_back(std::move(s));
  }
  // Pass-through (TT=10, ECAP.PT on both): IOVA = PA.
  for (unsigned levels : {3u, 4u}) {
    Structure s = base("context TT", std::to_string(levels) + "L TT=2 pass-through", levels);
    const std::uint64_t ce = kContext + (kDev & 0xFF) * 16;
    s.words[ce] = (s.words[ce] & ~0xCull) | (2u << 2);
    s.probes.push_back(Probe{kDev, kDataBase + 0x300, 8, false, {kDataBase + 0x300}, "read"});
    s.probes.push_back(Probe{kDev, kDataBase + 0x400, 8, true, {kDataBase + 0x400}, "write"});
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Structure> random_valid(std::mt19937_64& rng, unsigned cases) {
  std::vector<Structure> out;
  auto pick = [&](std::uint64_t n) {
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng);
  };
  for (unsigned c = 0; c < cases; ++c) {
    const unsigned levels = 3 + static_cast<unsigned>(pick(2));
    Structure s = base("random valid",
                       "case " + std::to_string(c) + " " + std::to_string(levels) + "L", levels);
    std::vector<Mapping> maps;
    for (std::size_t i = 0; i < 4; ++i) {
      Mapping m;
      m.shift = std::array<unsigned, 3>{12, 21, 30}[pick(3)];
      m.perms = 1 + static_cast<unsigned>(pick(3));
      // Distinct 1 GiB slots keep the mappings apart; slot 255 of 3-level holds the scratch IOVA.
      m.iova = probe_region(levels) + (i * 7 + 1 + pick(5)) * 0x40000000ull;
      if (m.shift == 12) {
        m.iova += pick(512) * 0x200000ull + pick(512) * kPage;
        m.pa = kDataBase + pick(kDataPages) * kPage;
      } else if (m.shift == 21) {
        m.iova += pick(512) * 0x200000ull;
        m.pa = kDataBase + pick(2) * 0x200000ull;
      } else {
        m.pa = 0;  // the only 1 GiB frame in 512 MiB of RAM; offsets keep to the data region
      }
      map(s, i, m);
      maps.push_back(m);
    }
    for (std::size_t i = 0; i < maps.size(); ++i) {
      const Mapping& m = maps[i];
      const std::uint64_t span = bit(m.shift);
      const std::uint64_t lo = m.shift == 30 ? kDataBase : 0;
      const std::uint64_t hi = m.shift == 30 ? kDataBase + kDataPages * kPage : span;
      for (bool w : {false, true}) {
        const std::uint64_t off = (lo + pick((hi - lo) / 8 - 8) * 8);
        const std::size_t len = 8 * (1 + pick(8));
        s.probes.push_back(probe(m, std::min(off, hi - len), len, w, w ? "write" : "read"));
      }
      // The neighbouring, unmapped 4 KiB page (or superpage).
      Probe miss = probe(m, 0, 8, pick(2) == 1, "unmapped neighbour");
      miss.iova = m.iova + span + 0x10;
      miss.watch.clear();
      if (m.shift == 12 && ((m.iova >> 12) & 511) != 511) s.probes.push_back(miss);
    }
    out.push_back(std::move(s));
  }
  return out;
}

void psi(Side& side, std::uint16_t did, std::uint64_t addr, unsigned am) {
  side.mmio().write64(kIva, addr | am);
  side.mmio().write64(kIotlb, bit(63) | (std::uint64_t{3} << 60) | (std::uint64_t{did} << 32));
}
void dsi(Side& side, std::uint16_t did) {
  side.mmio().write64(kIotlb, bit(63) | (std::uint64_t{2} << 60) | (std::uint64_t{did} << 32));
}
void cc_device(Side& side, std::uint16_t sid, std::uint16_t did) {
  side.mmio().write64(kCcmd, bit(63) | (std::uint64_t{3} << 61) | (std::uint64_t{sid} << 16) | did);
}

// Queued invalidation (VT-d spec §6.5.2): `descs` (lo, hi pairs) then a wait descriptor with
// status write, submitted through a fresh 256-entry ring; QIE is switched off again by the next
// install (GCMD := 0), so register invalidation works there.
void submit_queued(Side& side, std::vector<std::pair<std::uint64_t, std::uint64_t>> descs) {
  descs.emplace_back(5 | bit(5) | (std::uint64_t{0x5A} << 32), kWaitStatus);  // wait, SW=1
  vtd::Mmio& r = side.mmio();
  side.mem().write64(kWaitStatus, 0);
  r.write64(kIqt, 0);
  r.write64(kIqa, kQueue);  // QS=0: 256 entries of 128 bits
  r.write32(kGcmd, kTe | kQie);
  for (std::size_t i = 0; i < descs.size(); ++i) {
    side.mem().write64(kQueue + 16 * i, descs[i].first);
    side.mem().write64(kQueue + 16 * i + 8, descs[i].second);
  }
  r.write64(kIqt, descs.size() << 4);
  (void)side.mem().read64(kWaitStatus);  // both units process the queue synchronously
}

std::uint64_t qi_iotlb(unsigned g, std::uint16_t did) {
  return 2 | (std::uint64_t{g} << 4) | (std::uint64_t{did} << 16);
}

// Stale translations: change a present leaf, invalidate partially (or not), probe again.
std::vector<Structure> stale() {
  std::vector<Structure> out;
  struct Variant {
    std::string name;
    bool clear;  // clear the leaf (else redirect it to another page)
    std::function<void(Side&, std::uint64_t)> inval;
  };
  const std::vector<Variant> variants = {
      {"redirect, no invalidation", false, [](Side&, std::uint64_t) {}},
      {"redirect, PSI right DID", false, [](Side& s, std::uint64_t i) { psi(s, kDid, i, 0); }},
      {"redirect, PSI other DID", false, [](Side& s, std::uint64_t i) { psi(s, kDid2, i, 0); }},
      {"redirect, PSI other page", false,
       [](Side& s, std::uint64_t i) { psi(s, kDid, i + 2 * kPage, 0); }},
      {"redirect, DSI right DID", false, [](Side& s, std::uint64_t) { dsi(s, kDid); }},
      {"redirect, DSI other DID", false, [](Side& s, std::uint64_t) { dsi(s, kDid2); }},
      {"clear, no invalidation", true, [](Side&, std::uint64_t) {}},
      {"clear, PSI right DID", true, [](Side& s, std::uint64_t i) { psi(s, kDid, i, 0); }},
      {"clear, PSI other DID", true, [](Side& s, std::uint64_t i) { psi(s, kDid2, i, 0); }},
      {"clear, DSI right DID", true, [](Side& s, std::uint64_t) { dsi(s, kDid); }},
      {"clear, context-cache only", true, [](Side& s, std::uint64_t) { cc_device(s, kDev, kDid); }},
      {"redirect, queued PSI right DID", false,
       [](Side& s, std::uint64_t i) { submit_queued(s, {{qi_iotlb(3, kDid), i}}); }},
      {"redirect, queued PSI other DID", false,
       [](Side& s, std::uint64_t i) { submit_queued(s, {{qi_iotlb(3, kDid2), i}}); }},
      {"redirect, queued PSI AM=1 over the page pair", false,
       [](Side& s, std::uint64_t i) {
         submit_queued(s, {{qi_iotlb(3, kDid), (i & ~(2 * kPage - 1)) | 1}});
       }},
      {"clear, queued DSI right DID", true,
       [](Side& s, std::uint64_t) { submit_queued(s, {{qi_iotlb(2, kDid), 0}}); }},
      {"clear, queued DSI other DID", true,
       [](Side& s, std::uint64_t) { submit_queued(s, {{qi_iotlb(2, kDid2), 0}}); }},
      {"clear, queued global IOTLB", true,
       [](Side& s, std::uint64_t) { submit_queued(s, {{qi_iotlb(1, 0), 0}}); }},
      {"clear, queued wait only", true, [](Side& s, std::uint64_t) { submit_queued(s, {}); }},
  };
  for (const Variant& v : variants) {
    Structure s = base("stale", v.name, 4);
    const Mapping m{probe_region(4) + 0x40000000ull + 0x10000, 12, kDataBase + 3 * kPage, 3};
    map(s, 0, m);
    s.probes.push_back(probe(m, 0x80, 16, false, "read (fills the IOTLB)"));
    const std::uint64_t leaf = s.entry.at({0, 1});
    const std::uint64_t new_pa = kDataBase + 9 * kPage;
    const std::uint64_t new_word = v.clear ? 0 : (new_pa | 3);
    const std::uint64_t iova = m.iova;
    auto inval = v.inval;
    s.act2 = [leaf, new_word, iova, inval](Side& side) {
      side.mem().write64(leaf, new_word);
      inval(side, iova);
    };
    Probe again = probe(m, 0x80, 16, false, "read after change");
    again.watch.push_back(new_pa + 0x80);
    s.probes2.push_back(again);
    Probe w = probe(m, 0x100, 8, true, "write after change");
    w.watch.push_back(new_pa + 0x100);
    s.probes2.push_back(w);
    out.push_back(std::move(s));
  }
  // Context entry cleared: without a context-cache invalidation the old entry stays in use.
  for (bool with_cc : {false, true}) {
    Structure s = base(
        "stale",
        std::string("context cleared, ") + (with_cc ? "device CC + DSI" : "no invalidation"), 4);
    const Mapping m{probe_region(4) + 0x40000000ull + 0x20000, 12, kDataBase + 4 * kPage, 3};
    map(s, 0, m);
    s.probes.push_back(probe(m, 0x10, 8, false, "read"));
    const std::uint64_t ce = kContext + (kDev & 0xFF) * 16;
    s.act2 = [ce, with_cc](Side& side) {
      side.mem().write64(ce, 0);
      side.mem().write64(ce + 8, 0);
      if (with_cc) {
        cc_device(side, kDev, kDid);
        dsi(side, kDid);
      }
    };
    s.probes2.push_back(probe(m, 0x10, 8, false, "read after clear"));
    out.push_back(std::move(s));
  }
  // PSI masks: 2^(am+1) pages cached, all redirected, PSI with mask am at the base: exactly the
  // first 2^am pages must see the change.
  for (unsigned am = 0; am <= 9; ++am) {
    Structure s = base("PSI mask", "AM=" + std::to_string(am), 4);
    const std::uint64_t n = std::min<std::uint64_t>(bit(am + 1), 64);
    const std::uint64_t stride = bit(am + 1) / n;  // probe a sample of pages when the range is big
    const std::uint64_t iova = probe_region(4) + 0x40000000ull * 2 + bit(am + 1) * kPage * 3;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> leaves;  // entry PA, new word
    for (std::uint64_t i = 0; i < bit(am + 1); ++i) {
      const Mapping m{iova + i * kPage, 12, kDataBase + (i % 256) * kPage, 3};
      map(s, static_cast<std::size_t>(i), m);
      leaves.emplace_back(s.entry.at({static_cast<std::size_t>(i), 1}),
                          (kDataBase + (256 + i % 256) * kPage) | 3);
    }
    for (std::uint64_t i = 0; i < bit(am + 1); i += stride) {
      const Mapping m{iova + i * kPage, 12, kDataBase + (i % 256) * kPage, 3};
      s.probes.push_back(probe(m, 0x20, 8, false, "fill page " + std::to_string(i)));
      Probe p = probe(m, 0x20, 8, false, "page " + std::to_string(i) + " after PSI");
      p.watch.push_back(kDataBase + (256 + i % 256) * kPage + 0x20);
      s.probes2.push_back(p);
    }
    s.act2 = [leaves, iova, am](Side& side) {
      for (const auto& [pa, w] : leaves) side.mem().write64(pa, w);
      psi(side, kDid, iova, am);
      if (std::getenv("KNIOMMU_DIFF_TRACE") != nullptr)
        std::fprintf(stderr, "diff: %s IOTLB_REG after PSI AM=%u: %llx\n", side.name(), am,
                     static_cast<unsigned long long>(side.mmio().read64(kIotlb)));
    };
    out.push_back(std::move(s));
  }
  // Masks above 9 (up to CAP.MAMV = 18) cover whole 2 MiB pages: 2^(am+1-9) superpages cached, all
  // redirected, PSI with mask am at the base; exactly the first half must see the change. Every
  // superpage points at the same 2 MiB block (and is redirected to the next one), so the largest
  // mask needs 1024 leaves, not 512k.
  for (unsigned am = 10; am <= 18; ++am) {
    Structure s = base("PSI mask", "AM=" + std::to_string(am) + " over 2 MiB pages", 4);
    const std::uint64_t count = bit(am + 1 - 9);
    const std::uint64_t n = std::min<std::uint64_t>(count, 64);
    const std::uint64_t stride = count / n;
    const std::uint64_t iova = probe_region(4) + 0x40000000ull * 2 + bit(am + 1) * kPage * 3;
    const std::uint64_t old_pa = kDataBase;             // 2 MiB aligned
    const std::uint64_t new_pa = kDataBase + bit(21);  // the next 2 MiB block
    std::vector<std::pair<std::uint64_t, std::uint64_t>> leaves;
    for (std::uint64_t i = 0; i < count; ++i) {
      const Mapping m{iova + i * bit(21), 21, old_pa, 3};
      map(s, static_cast<std::size_t>(i), m);
      leaves.emplace_back(s.entry.at({static_cast<std::size_t>(i), 2}), new_pa | 3 | bit(7));
    }
    for (std::uint64_t i = 0; i < count; i += stride) {
      const Mapping m{iova + i * bit(21), 21, old_pa, 3};
      const std::uint64_t off = 0x20 + (i % 64) * kPage;  // a different 4 KiB page of each leaf
      s.probes.push_back(probe(m, off, 8, false, "fill 2 MiB page " + std::to_string(i)));
      Probe p = probe(m, off, 8, false, "2 MiB page " + std::to_string(i) + " after PSI");
      p.watch.push_back(new_pa + off);
      s.probes2.push_back(p);
    }
    s.act2 = [leaves, iova, am](Side& side) {
      for (const auto& [pa, w] : leaves) side.mem().write64(pa, w);
      psi(side, kDid, iova, am);
    };
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::uint8_t> pattern_bytes(std::uint64_t pa, std::size_t len) {
  std::vector<std::uint8_t> b(len);
  for (std::size_t i = 0; i < len; ++i) {
    const std::uint64_t a = pa + i;
    b[i] = static_cast<std::uint8_t>(pattern_word(a & ~7ull) >> (8 * (a & 7)));
  }
  return b;
}

Explained explain(const Probe& p, const Outcome& emu, const Outcome& qemu) {
  // Write denied by a cached read-only translation: same memory on both, only the record differs.
  if (p.write && emu.fault && emu.reason == 0x5 && !qemu.fault && emu.bytes == qemu.bytes)
    return Explained::kQemuSilentWriteBlock;
  // Stale vs fresh: the emulator read the old target, QEMU the new one (watch = {old, new}).
  if (!p.write && p.watch.size() == 2 && !emu.fault && !qemu.fault &&
      emu.bytes == pattern_bytes(p.watch[0], p.len) &&
      qemu.bytes == pattern_bytes(p.watch[1], p.len))
    return Explained::kQemuDroppedCachedEntry;
  return Explained::kNo;
}

}  // namespace

std::string describe(const Outcome& o) {
  std::ostringstream os;
  os << std::hex;
  if (o.fault)
    os << "fault reason 0x" << int(o.reason) << " addr 0x" << o.address << " sid 0x" << o.sid
       << (o.is_read ? " read" : " write");
  else
    os << "no fault";
  if (!o.bytes.empty()) {
    os << " bytes ";
    for (std::size_t i = 0; i < std::min<std::size_t>(o.bytes.size(), 16); ++i)
      os << (o.bytes[i] < 16 ? "0" : "") << int(o.bytes[i]);
    if (o.bytes.size() > 16) os << "...(" << std::dec << o.bytes.size() << ")";
  }
  return os.str();
}

Report run_differential(Side& emu, Side& qemu, std::uint32_t seed, unsigned random_cases) {
  std::mt19937_64 rng(seed);
  std::vector<Structure> all = malformed();
  for (Structure& s : random_valid(rng, random_cases)) all.push_back(std::move(s));
  for (Structure& s : stale()) all.push_back(std::move(s));
  Report r;
  const Structure* prev = nullptr;
  for (const Structure& s : all) {
    install(emu, s, prev);
    install(qemu, s, prev);
    prev = &s;
    ++r.structures;
    ++r.structures_by_kind[s.kind];
    auto compare = [&](const Probe& p) {
      if (std::getenv("KNIOMMU_DIFF_TRACE") != nullptr)
        std::fprintf(stderr, "diff: %s / %s / %s\n", s.kind.c_str(), s.name.c_str(),
                     p.name.c_str());
      const Outcome a = run_probe(emu, p);
      const Outcome b = run_probe(qemu, p);
      ++r.probes;
      if (std::getenv("KNIOMMU_DIFF_TRACE") != nullptr)
        std::fprintf(stderr, "diff:   emulator %s | QEMU %s\n", describe(a).c_str(),
                     describe(b).c_str());
      if (!(a == b)) {
        const Explained why = explain(p, a, b);
        std::ostringstream os;
        os << s.kind << " / " << s.name << " / " << p.name << " (" << (p.write ? "write" : "read")
           << " iova 0x" << std::hex << p.iova << "): emulator " << describe(a) << " | QEMU "
           << describe(b);
        if (why == Explained::kNo)
          r.disagreements.push_back(os.str());
        else
          r.explained[why].push_back(os.str());
      }
    };
    for (const Probe& p : s.probes) compare(p);
    if (s.act2) {
      s.act2(emu);
      s.act2(qemu);
      for (const Probe& p : s.probes2) compare(p);
    }
    if (!qemu.error().empty()) break;
  }
  return r;
}

}  // namespace kniommu::qemu::diff
