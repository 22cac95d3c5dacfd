#include "failpoint.h"

namespace kniommu {
namespace {
struct State {
  std::uint64_t remaining = 0;  // 0 = disarmed
  std::uint64_t seen = 0;
};
thread_local State tl_state;
}  // namespace

void failpoint_arm(std::uint64_t n) { tl_state = State{n, 0}; }
void failpoint_disarm() { tl_state.remaining = 0; }

bool failpoint_hit() {
  State& s = tl_state;
  if (s.remaining == 0) return false;
  ++s.seen;
  if (--s.remaining == 0) return true;
  return false;
}

std::uint64_t failpoint_sites_seen() { return tl_state.seen; }

}  // namespace kniommu
