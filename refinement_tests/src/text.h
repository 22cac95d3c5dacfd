// Message building for discrepancy reports: numbers in hex with 0x, as registers and addresses
// are read.
#pragma once

#include <sstream>
#include <string>

namespace kniommu::conformance {

template <class... T>
std::string cat(const T&... parts) {
  std::ostringstream os;
  os << std::hex << std::showbase;
  (os << ... << parts);
  return os.str();
}

}  // namespace kniommu::conformance
