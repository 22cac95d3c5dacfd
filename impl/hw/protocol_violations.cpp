#include "hw/protocol_violations.h"

namespace kniommu::hw {
namespace {

struct RuleInfo {
  std::string_view name, section, text;
};
constexpr RuleInfo kRules[] = {
#define KNIOMMU_PROTOCOL_RULE_INFO(name, section, text) {#name, section, text},
    KNIOMMU_PROTOCOL_RULES(KNIOMMU_PROTOCOL_RULE_INFO)
#undef KNIOMMU_PROTOCOL_RULE_INFO
};

}  // namespace

std::string_view rule_name(ProtocolRule r) { return kRules[static_cast<unsigned>(r)].name; }

void ProtocolViolations::record(ProtocolRule rule, const std::string& detail) {
  ++count_;
  ++per_rule_.at(static_cast<unsigned>(rule));
  if (lines_.size() >= kMaxLogged) return;
  const RuleInfo& info = kRules[static_cast<unsigned>(rule)];
  lines_.push_back(std::string(info.name) + " (" + std::string(info.section) + ": " +
                   std::string(info.text) + "): " + detail);
}

std::uint64_t ProtocolViolations::count(ProtocolRule rule) const {
  return per_rule_.at(static_cast<unsigned>(rule));
}

std::string ProtocolViolations::log() const {
  std::string out;
  for (const std::string& l : lines_) out += l + "\n";
  if (count_ > lines_.size()) out += "... " + std::to_string(count_ - lines_.size()) + " more\n";
  return out;
}

}  // namespace kniommu::hw
