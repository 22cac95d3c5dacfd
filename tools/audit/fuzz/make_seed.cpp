// Writes a small valid snapshot (tables for two devices, metadata) as the fuzzer's seed corpus,
// so mutations start from the interesting part of the input space instead of random bytes.
#include <cstdio>

#include "snapshot/writer.h"

int main(int argc, char** argv) {
  using namespace kniommu::snapshot;
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: make_seed <output file> [<pass-through variant file>]\n");
    return 2;
  }
  Snapshot s;
  s.regs = {0x00d2008c40660462ull, 0xf0101aull, 0x80000000ull, 0x1000};
  Page root{}, context{}, pml4{}, pdpt{}, pd{}, pt{};
  // One little-endian 64-bit word at word index `index` of a page.
  auto entry = [](Page& page, std::size_t index, std::uint64_t value) {
    for (std::size_t i = 0; i < 8; ++i)
      page[index * 8 + i] = static_cast<std::uint8_t>(value >> (8 * i));
  };
  entry(root, 0, 0x2001);                 // bus 0 -> context table 0x2000
  entry(context, 0, 0x3001);              // devfn 0 -> SL table 0x3000, present
  entry(context, 1, 2ull | (5ull << 8));  // AW 4-level, DID 5
  entry(context, 2, 0x3001);              // devfn 1, same table, DID 6
  entry(context, 3, 2ull | (6ull << 8));
  entry(pml4, 0, 0x4003);
  entry(pdpt, 0, 0x5003);
  entry(pd, 0, 0x6003);
  entry(pd, 1, 0x200083);  // a 2 MiB leaf
  entry(pt, 0, 0x10003);
  entry(pt, 1, 0x11001);
  s.pages = {{0x1000, root}, {0x2000, context}, {0x3000, pml4},
             {0x4000, pdpt}, {0x5000, pd},      {0x6000, pt}};
  s.processes = {{1, "driver"}, {2, "other"}};
  s.domains = {{1, 5, DomainKind::kAutomatic}, {2, 6, DomainKind::kCreated}};
  s.buffers = {{1, 1, kPermRead | kPermWrite, {{0x10000, 2}}}};
  if (!write_snapshot_file(s, argv[1])) return 1;
  if (argc == 3) {
    // A variant that reaches the pass-through path: ECAP.PT and TT = 2 on devfn 1.
    s.regs.ecap |= 1u << 6;
    entry(s.pages.at(0x2000), 2, 0x3009);
    if (!write_snapshot_file(s, argv[2])) return 1;
  }
  return 0;
}
