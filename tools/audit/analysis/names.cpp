#include "analysis/names.h"

#include <cstdio>

#include "analysis/ranges.h"

namespace kniommu::audit {

std::string bdf_name(std::uint16_t bdf) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02x:%02x.%x", bdf >> 8, (bdf >> 3) & 0x1F, bdf & 0x7);
  return buf;
}

std::string hex(std::uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string perms_name(std::uint8_t perms) {
  std::string s;
  if ((perms & kRead) != 0) s += 'R';
  if ((perms & kWrite) != 0) s += 'W';
  return s.empty() ? "-" : s;
}

}  // namespace kniommu::audit
