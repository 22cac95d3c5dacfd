#include "analysis/ranges.h"

#include <algorithm>
#include <functional>

namespace kniommu::audit {
namespace {

constexpr std::uint64_t kPage = 4096;

struct Segment {
  std::uint64_t begin = 0;  // page numbers
  std::uint64_t end = 0;
  std::uint8_t perms = 0;
};

void append_merged(std::vector<Range>& out, std::uint64_t begin, std::uint64_t end,
                   std::uint8_t perms) {
  if (perms == 0 || begin == end) return;
  if (!out.empty() && out.back().perms == perms &&
      out.back().pa / kPage + out.back().pages == begin) {
    out.back().pages += end - begin;
    return;
  }
  out.push_back({begin * kPage, end - begin, perms});
}

// Walks two normalized sets together over every elementary interval where either is present
// and lets `combine` decide the permissions of the result there.
std::vector<Range> merge_walk(
    const std::vector<Range>& a, const std::vector<Range>& b,
    const std::function<std::uint8_t(std::uint8_t, std::uint8_t)>& combine) {
  std::vector<std::uint64_t> cuts;
  cuts.reserve(2 * (a.size() + b.size()));
  for (const auto* set : {&a, &b}) {
    for (const auto& r : *set) {
      cuts.push_back(r.pa / kPage);
      cuts.push_back(r.pa / kPage + r.pages);
    }
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<Range> out;
  std::size_t ia = 0;
  std::size_t ib = 0;
  auto perms_at = [](const std::vector<Range>& set, std::size_t& i,
                     std::uint64_t page) -> std::uint8_t {
    while (i < set.size() && set[i].pa / kPage + set[i].pages <= page) ++i;
    return (i < set.size() && set[i].pa / kPage <= page) ? set[i].perms : 0;
  };
  for (std::size_t c = 0; c + 1 < cuts.size(); ++c) {
    const std::uint8_t pa = perms_at(a, ia, cuts[c]);
    const std::uint8_t pb = perms_at(b, ib, cuts[c]);
    append_merged(out, cuts[c], cuts[c + 1], combine(pa, pb));
  }
  return out;
}

}  // namespace

std::vector<Range> normalize(std::vector<Range> ranges) {
  // Sweep over start/end events with a counter per permission bit.
  struct Event {
    std::uint64_t page;
    int read;
    int write;
  };
  std::vector<Event> events;
  events.reserve(2 * ranges.size());
  for (const auto& r : ranges) {
    if (r.pages == 0 || r.perms == 0) continue;
    const int rd = (r.perms & kRead) != 0 ? 1 : 0;
    const int wr = (r.perms & kWrite) != 0 ? 1 : 0;
    events.push_back({r.pa / kPage, rd, wr});
    events.push_back({r.pa / kPage + r.pages, -rd, -wr});
  }
  std::sort(events.begin(), events.end(),
            [](const Event& x, const Event& y) { return x.page < y.page; });
  std::vector<Range> out;
  int readers = 0;
  int writers = 0;
  for (std::size_t i = 0; i < events.size();) {
    const std::uint64_t page = events[i].page;
    for (; i < events.size() && events[i].page == page; ++i) {
      readers += events[i].read;
      writers += events[i].write;
    }
    if (i == events.size()) break;
    const auto perms =
        static_cast<std::uint8_t>((readers > 0 ? kRead : 0) | (writers > 0 ? kWrite : 0));
    append_merged(out, page, events[i].page, perms);
  }
  return out;
}

std::vector<Range> excess(const std::vector<Range>& reach, const std::vector<Range>& allowed) {
  return merge_walk(reach, allowed, [](std::uint8_t r, std::uint8_t a) {
    return static_cast<std::uint8_t>(r & ~a);
  });
}

std::vector<Range> overlap(const std::vector<Range>& a, const std::vector<Range>& b) {
  return merge_walk(a, b, [](std::uint8_t x, std::uint8_t y) {
    return static_cast<std::uint8_t>((x != 0 && y != 0) ? (x | y) : 0);
  });
}

std::uint64_t page_count(const std::vector<Range>& ranges) {
  std::uint64_t n = 0;
  for (const auto& r : ranges) n += r.pages;
  return n;
}

}  // namespace kniommu::audit
