// Quoting for commands run through the shell (popen/system): Graphviz `dot`, `ctest`.
#pragma once

#include <string>

namespace kniommu::audit {

// 'text' with embedded single quotes escaped, safe as one shell word.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace kniommu::audit
