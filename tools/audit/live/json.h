// A small JSON reader for QMP replies (RFC 8259 values; numbers kept as text and as double).
// QMP answers are short and come from a trusted local QEMU, but the parser still bounds its
// depth and never reads past the input.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kniommu::live {

struct Json {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  std::string text;  // string value, or the number's literal
  std::vector<Json> items;
  std::map<std::string, Json> members;

  const Json* get(const std::string& key) const;  // member of an object, or nullptr
  bool is_string() const { return type == Type::kString; }
};

// Parses exactly one value (surrounding whitespace allowed). nullopt on malformed input.
std::optional<Json> parse_json(const std::string& input);

// A JSON string literal for `s` (quotes included).
std::string json_quote(const std::string& s);

}  // namespace kniommu::live
