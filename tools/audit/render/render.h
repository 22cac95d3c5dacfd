// The three renderings of an audit report: text for people, JSON for programs, and a Graphviz
// DOT picture of processes → domains → devices → buffers (violations in red).
#pragma once

#include <string>

#include "analysis/analysis.h"

namespace kniommu::audit {

std::string render_text(const Report& report);
std::string render_json(const Report& report);
std::string render_dot(const Report& report);

// A JSON string literal (quotes included), as the JSON rendering writes strings.
std::string json_string(const std::string& s);

// Which buffers a device reaches, with the permissions it has on them (for text and DOT).
struct BufferReach {
  const snapshot::Buffer* buffer = nullptr;
  std::uint8_t perms = 0;
  std::uint64_t pages = 0;
};
std::vector<BufferReach> buffers_reached(const Report& report, const DeviceReport& device);

}  // namespace kniommu::audit
