// gtest parameter names from obligation names: letters, digits and '_' only.
#pragma once

#include <cctype>
#include <string>

namespace kniommu::proofs {

inline std::string test_name(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    if (std::isalnum(static_cast<unsigned char>(ch)) != 0)
      out += ch;
    else if (ch == '_' || ch == ' ')
      out += '_';
  }
  return out;
}

}  // namespace kniommu::proofs
