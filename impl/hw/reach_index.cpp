#include "hw/reach_index.h"

#include <bit>

#include "vtd/sl_fields.h"

namespace kniommu::hw {
namespace {

constexpr unsigned kWords = vtd::kPageSize / 8;
constexpr unsigned kWordsPerLine = 8;  // a 64-byte line, SimPhysMem's write-log granularity
// Root and context entries are 128 bits: entry i is words 2i and 2i + 1.
constexpr unsigned entry_words(unsigned kind) { return kind <= 1 ? 2 : 1; }

}  // namespace

ReachIndex::ReachIndex(const Walker& walker, SimPhysMem& mem, FrameRefs& refs)
    : walker_(walker), mem_(mem), refs_(refs), fresh_(kWords, 0) {}

ReachIndex::~ReachIndex() {
  for (const auto& [k, n] : nodes_) {
    if (n.loaded) mem_.set_write_watch(k & ~std::uint64_t{vtd::kPageSize - 1}, false);
  }
}

void ReachIndex::link(PhysAddr table, unsigned kind) {
  refs_.add(table, 12);
  Node& n = nodes_[key(table, kind)];
  if (n.in++ == 0) load(table, kind, n);
}

void ReachIndex::load(PhysAddr table, unsigned kind, Node& n) {
  if (!walker_.table_readable(table)) return;  // referenced, but nothing to follow
  // Watch first: a write that lands while the copy is taken is then seen at the next sync.
  mem_.set_write_watch(table, true);
  n.loaded = true;
  n.words = std::make_unique_for_overwrite<std::uint64_t[]>(kWords);
  mem_.read_memory(table, n.words.get(), vtd::kPageSize);  // what the walker sees
  // `n` stays valid while children are inserted (unordered_map nodes do not move), and no child
  // can reach back to it (the structures form a DAG).
  table_refs(kind, n.words.get(), +1);
}

void ReachIndex::unlink(PhysAddr table, unsigned kind) {
  refs_.remove(table, 12);
  auto it = nodes_.find(key(table, kind));
  if (it == nodes_.end() || --it->second.in != 0) return;
  if (it->second.loaded) {
    const std::unique_ptr<std::uint64_t[]> words = std::move(it->second.words);
    table_refs(kind, words.get(), -1);
    if (!loaded_elsewhere(table, kind)) mem_.set_write_watch(table, false);
  }
  nodes_.erase(key(table, kind));
}

bool ReachIndex::loaded_elsewhere(PhysAddr table, unsigned kind) const {
  for (unsigned k = 0; k < kKinds; ++k) {
    if (k == kind) continue;
    const auto it = nodes_.find(key(table, k));
    if (it != nodes_.end() && it->second.loaded) return true;
  }
  return false;
}

void ReachIndex::entry_refs(unsigned kind, std::uint64_t w0, std::uint64_t w1, int delta) {
  const auto follow = [&](PhysAddr child, unsigned child_kind) {
    if (delta > 0) {
      link(child, child_kind);
    } else {
      unlink(child, child_kind);
    }
  };
  if (kind == kRoot || kind == kContext) {
    PhysAddr child = 0;
    unsigned levels = 0;
    if (kind == kRoot && walker_.root_context_table({w0, w1}, &child)) follow(child, kContext);
    if (kind == kContext && walker_.context_top_table({w0, w1}, &child, &levels)) {
      follow(child, 1 + levels);
    }
    return;
  }
  const Walker::SlRef r = walker_.sl_ref(kind - 1, w0);
  if (!r.present) return;
  if (!r.leaf) {
    follow(r.pa, kind - 1);
  } else if (delta > 0) {
    refs_.add(r.pa, r.shift);
  } else {
    refs_.remove(r.pa, r.shift);
  }
}

void ReachIndex::table_refs(unsigned kind, const std::uint64_t* words, int delta) {
  // An all-zero entry references nothing whatever the configuration: its present bit (root and
  // context entries, VT-d spec §9.1, §9.3) or its R and W bits (second-level entries, §9.8) are 0.
  if (kind == kRoot || kind == kContext) {
    for (unsigned i = 0; i < kWords; i += 2) {
      if ((words[i] | words[i + 1]) != 0) entry_refs(kind, words[i], words[i + 1], delta);
    }
    return;
  }
  // 4 KiB leaves whose frames follow each other are gathered into one run [run, run_end) and
  // counted at once; anything else is counted by itself (counts commute: nothing reads them
  // until the next any()).
  PhysAddr run = 0, run_end = 0;
  const auto flush = [&] {
    if (run_end == run) return;
    if (delta > 0) {
      refs_.add_frames(run, (run_end - run) >> vtd::kPageShift);
    } else {
      refs_.remove_frames(run, (run_end - run) >> vtd::kPageShift);
    }
  };
  // The entry after a 4 KiB leaf is most often that leaf plus 4 KiB: same R/W/PS and other bits,
  // the next frame in ADDR (bits 51:12 of a 4 KiB leaf, VT-d spec §9.8). When nothing carries out
  // of ADDR, the walker's decoding of it is the previous leaf's with the frame 4 KiB higher, so
  // it extends the run without being decoded again.
  static_assert(vtd::sl_fields::kLeafAddr[1] == 0x000F'FFFF'FFFF'F000);
  std::uint64_t last_leaf = 0;  // the last 4 KiB leaf entry counted (0: none yet)
  for (unsigned i = 0; i < kWords; ++i) {
    if (i % kWordsPerLine == 0) {
      // A whole line at once (a leaf table mapping a buffer is mostly lines that only extend the
      // run, an empty table mostly zero lines), without a branch per entry. The line extends the
      // run when each entry is its predecessor (the previous line's last for the first) plus
      // 4 KiB with nothing carried out of ADDR, the test below entry by entry. When every entry
      // is the line's first plus j * 4 KiB and the first is the last leaf plus 4 KiB, a carry
      // between any two neighbours shows between the last leaf and the line's last entry: 8 steps
      // of 4 KiB add less than 2^52, so bits 63:52 gain at most the one carry, and gaining it
      // changes them (mod 2^12). A zero entry never extends a run (zero minus 4 KiB carries).
      const std::uint64_t* line = words + i;
      std::uint64_t off = 0, any = line[0];
#pragma GCC unroll 8
      for (unsigned j = 1; j < kWordsPerLine; ++j) {
        off |= line[j] - line[0] - j * vtd::kPageSize;
        any |= line[j];
      }
      if (off == 0 && last_leaf != 0 && line[0] == last_leaf + vtd::kPageSize &&
          ((line[kWordsPerLine - 1] ^ last_leaf) >> 52) == 0) {  // eight more leaves of the run
        run_end += kWordsPerLine * vtd::kPageSize;
        last_leaf = line[kWordsPerLine - 1];
        i += kWordsPerLine - 1;
        continue;
      }
      if (any == 0) {  // eight empty entries
        i += kWordsPerLine - 1;
        continue;
      }
    }
    const std::uint64_t w = words[i];
    if (w == 0) continue;
    if (last_leaf != 0 && w == last_leaf + vtd::kPageSize && ((w ^ last_leaf) >> 52) == 0) {
      run_end += vtd::kPageSize;
      last_leaf = w;
      continue;
    }
    const Walker::SlRef r = walker_.sl_ref(kind - 1, w);
    if (!r.present) continue;
    if (r.leaf && r.shift == vtd::kPageShift) {
      if (r.pa != run_end || run_end == run) {
        flush();
        run = r.pa;
      }
      run_end = r.pa + vtd::kPageSize;
      last_leaf = w;
    } else {
      entry_refs(kind, words[i], 0, delta);
    }
  }
  flush();
}

void ReachIndex::refresh(PhysAddr frame, std::uint64_t lines) {
  // Compared in place through the host pointer (one pass, no copy); copied only for memory that
  // cannot hand one out. Read only if some structure lives in the frame.
  const std::uint64_t* live = nullptr;
  bool resolved = false;
  for (unsigned kind = 0; kind < kKinds; ++kind) {
    const auto it = nodes_.find(key(frame, kind));
    if (it == nodes_.end() || !it->second.loaded) continue;
    if (!resolved) {
      live = mem_.frame_for_memory_read(frame);
      if (live == nullptr) mem_.read_memory(frame, fresh_.data(), vtd::kPageSize);
      resolved = true;
    }
    const auto word = [&](unsigned i) {
      return live != nullptr ? vtd::load_entry(live, i) : fresh_[i];
    };
    // `n` stays valid below: inserting children does not move map nodes, and removing references
    // can only erase structures below this one (the DAG), never this node.
    Node& n = it->second;
    const unsigned step = entry_words(kind);
    // Only the lines written since the last sync can differ from the copy (a line holds whole
    // entries: 8 second-level or 4 root/context entries).
    for (std::uint64_t todo = lines; todo != 0; todo &= todo - 1) {
      const unsigned line = static_cast<unsigned>(std::countr_zero(todo));
      // A driver writing through a host pointer logs every line of the frame, of which few
      // changed: a branch-free pass over the line finds the unchanged ones first.
      // (The source is chosen once per line, not per word, so the loop unrolls.)
      std::uint64_t diff = 0;
      const unsigned first = line * kWordsPerLine;
      if (live != nullptr) {
#pragma GCC unroll 8
        for (unsigned i = first; i < first + kWordsPerLine; ++i) {
          diff |= vtd::load_entry(live, i) ^ n.words[i];
        }
      } else {
#pragma GCC unroll 8
        for (unsigned i = first; i < first + kWordsPerLine; ++i) diff |= fresh_[i] ^ n.words[i];
      }
      if (diff == 0) continue;
      for (unsigned i = line * kWordsPerLine; i < (line + 1) * kWordsPerLine; i += step) {
        const std::uint64_t f0 = word(i);
        const std::uint64_t f1 = step == 2 ? word(i + 1) : 0;
        const std::uint64_t o0 = n.words[i];
        const std::uint64_t o1 = step == 2 ? n.words[i + 1] : 0;
        if (o0 == f0 && o1 == f1) continue;
        n.words[i] = f0;
        if (step == 2) n.words[i + 1] = f1;
        // New references first, so a table referenced by both versions is not unloaded and
        // reloaded.
        entry_refs(kind, f0, f1, +1);
        entry_refs(kind, o0, o1, -1);
      }
    }
  }
}

void ReachIndex::sync(bool root_live, PhysAddr rta) {
  if (root_live != have_root_ || (root_live && rta != root_)) {
    if (have_root_) unlink(root_, kRoot);
    have_root_ = root_live;
    root_ = rta;
    if (root_live) link(rta, kRoot);
  }
  mem_.take_written_frames(&written_, &lines_);
  for (std::size_t i = 0; i < written_.size(); ++i) {
    refresh(written_[i] << vtd::kPageShift, lines_[i]);
  }
}

}  // namespace kniommu::hw
