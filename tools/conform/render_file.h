// Writes a whole file; false when it cannot be written completely.
#pragma once

#include <fstream>
#include <string>

namespace kniommu::conform {

inline bool write_file(const std::string& path, const std::string& content) {
  std::ofstream file(path, std::ios::trunc);
  file << content;
  return static_cast<bool>(file.flush());
}

}  // namespace kniommu::conform
