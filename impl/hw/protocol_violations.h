// Driver protocol violations: everything the VT-d specification says software must not do, or
// whose result it leaves undefined. Real hardware would do *something*; the emulator, as the
// strictest legal hardware, records the violation (rule, specification section, details) so the
// conformance suite fails on it, and never silently repairs the request (docs/emulator.md
// "Protocol violations" lists every rule).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kniommu::hw {

// One line per rule: identifier, specification section, what software did.
#define KNIOMMU_PROTOCOL_RULES(X)                                                     \
  X(PsiAddressUnaligned, "VT-d spec §6.5.2.3 / §10.4.8.2",                            \
    "page-selective IOTLB invalidation whose ADDR is not aligned to 2^AM pages")      \
  X(PsiMaskAboveMamv, "VT-d spec §6.5.2.3 / §10.4.8.2",                               \
    "page-selective IOTLB invalidation with AM greater than CAP.MAMV")                \
  X(DescriptorReserved, "VT-d spec §6.5.2",                                           \
    "invalidation descriptor with a reserved field or reserved granularity set")      \
  X(DescriptorType, "VT-d spec §6.5.2",                                               \
    "invalidation descriptor of a type the unit does not support")                    \
  X(QueueTailBeyondSize, "VT-d spec §10.4.22", "IQT beyond the queue size of IQA.QS") \
  X(RegisterReserved, "VT-d spec §10.4", "register write with a reserved bit set")    \
  X(RegisterInvalidationWhileQi, "VT-d spec §6.5.2",                                  \
    "CCMD / IOTLB register invalidation while queued invalidation is enabled")        \
  X(NonLeafChangeWithIh, "VT-d spec §6.5.2.3 / §6.2.4",                               \
    "page-selective invalidation with IH=1 over a non-leaf entry that changed")       \
  X(DidNamesTwoTables, "VT-d spec §9.3 (DID) / §6.2",                                 \
    "context entries with the same DID but a different SLPTPTR or AW")

enum class ProtocolRule : std::uint8_t {
#define KNIOMMU_PROTOCOL_RULE_ENUM(name, section, text) k##name,
  KNIOMMU_PROTOCOL_RULES(KNIOMMU_PROTOCOL_RULE_ENUM)
#undef KNIOMMU_PROTOCOL_RULE_ENUM
};

std::string_view rule_name(ProtocolRule r);

// Counter + log (the first kMaxLogged violations, one line each). Not thread-safe: the unit calls
// it with its own mutex held.
class ProtocolViolations {
 public:
  static constexpr std::size_t kMaxLogged = 32;
  void record(ProtocolRule rule, const std::string& detail);
  std::uint64_t count() const { return count_; }
  std::uint64_t count(ProtocolRule rule) const;
  std::string log() const;

 private:
  std::uint64_t count_ = 0;
  std::vector<std::uint64_t> per_rule_ = std::vector<std::uint64_t>(16, 0);
  std::vector<std::string> lines_;
};

}  // namespace kniommu::hw
