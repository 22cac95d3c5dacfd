#include "runs.h"

#include <algorithm>
#include <iomanip>

namespace kniommu::conformance {

Runs normalize(Runs runs) {
  const auto by_iova = [](const Run& a, const Run& b) {
    return a.iova != b.iova ? a.iova < b.iova : a.pa < b.pa;
  };
  // A table walk yields its runs in IOVA order already: checking is linear, sorting is not.
  if (!std::is_sorted(runs.begin(), runs.end(), by_iova))
    std::sort(runs.begin(), runs.end(), by_iova);
  // Merged in place: runs[0, kept) is the normalized prefix (no second allocation).
  size_t kept = 0;
  for (size_t k = 0; k < runs.size(); ++k) {
    const Run r = runs[k];
    if (r.pages == 0) continue;
    if (kept != 0) {
      Run& last = runs[kept - 1];
      const uint64_t end = last.iova + last.pages * kPage;
      if (end == r.iova && last.pa + last.pages * kPage == r.pa && last.perm == r.perm) {
        last.pages += r.pages;
        continue;
      }
    }
    runs[kept++] = r;
  }
  runs.resize(kept);
  return runs;
}

bool covers(const Runs& runs, uint64_t iova, uint64_t pages, uint64_t pa, uint8_t perm) {
  // First run whose end is beyond iova.
  auto it = std::upper_bound(runs.begin(), runs.end(), iova,
                             [](uint64_t v, const Run& r) { return v < r.iova + r.pages * kPage; });
  uint64_t cur = iova, cur_pa = pa, left = pages;
  while (left > 0) {
    if (it == runs.end() || it->iova > cur) return false;
    if ((it->perm & perm) != perm) return false;
    const uint64_t off = cur - it->iova;
    if (it->pa + off != cur_pa) return false;
    const uint64_t avail = it->pages - off / kPage;
    const uint64_t take = std::min(avail, left);
    cur += take * kPage;
    cur_pa += take * kPage;
    left -= take;
    ++it;
  }
  return true;
}

bool has_overlap(const Runs& normalized) {
  for (size_t i = 1; i < normalized.size(); ++i) {
    const Run& a = normalized[i - 1];
    if (a.iova + a.pages * kPage > normalized[i].iova) return true;
  }
  return false;
}

std::ostream& operator<<(std::ostream& os, const Run& r) {
  const auto flags = os.flags();
  os << std::hex << "[0x" << r.iova << "+" << std::dec << r.pages << "p -> 0x" << std::hex << r.pa
     << (r.perm & kPermR ? " R" : " -") << (r.perm & kPermW ? "W" : "-") << "]";
  os.flags(flags);
  return os;
}

std::ostream& operator<<(std::ostream& os, const Runs& runs) {
  os << "{";
  for (const Run& r : runs) os << r;
  return os << "}";
}

}  // namespace kniommu::conformance
