#include "analysis/names.h"

#include <cstdio>

#include "analysis/ranges.h"

namespace kniommu::audit {

std::string bdf_name(std::uint16_t bdf) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02x:%02x.%x", bdf >> 8, (bdf >> 3) & 0x1F, bdf & 0x7);
  return buf;
}

std::optional<std::uint16_t> parse_bdf(const std::string& text) {
  unsigned domain = 0, bus = 0, dev = 0, fn = 0;
  char tail = 0;
  const bool with_domain =
      std::sscanf(text.c_str(), "%x:%x:%x.%x%c", &domain, &bus, &dev, &fn, &tail) == 4;
  if (!with_domain && (std::sscanf(text.c_str(), "%x:%x.%x%c", &bus, &dev, &fn, &tail) != 3 ||
                       text.find(':') != text.rfind(':'))) {
    return std::nullopt;
  }
  if (domain != 0 || bus > 0xff || dev > 0x1f || fn > 7) return std::nullopt;
  return static_cast<std::uint16_t>((bus << 8) | (dev << 3) | fn);
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
