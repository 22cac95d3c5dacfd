// Mutation switches: deliberately injected bugs from real IOMMU history (docs/vtd-facts.md
// "Known pitfalls"), used to show that the refinement suite has teeth. Only the test variants of
// the libraries (<lib>_mutants, linking kniommu_mutation, which defines KNIOMMU_MUTANTS=1;
// cmake/MutantVariants.cmake) have them; even there every switch is off until a test selects one
// with set_active_mutant() or the environment variable KNIOMMU_MUTANT=<name>. Code under test asks
// `if (mutant(Mutant::X)) { buggy path } else { correct path }`; in the production libraries
// mutant() is consteval false, the buggy path compiles away, and nothing below the #if exists.
#pragma once

#include <optional>
#include <string_view>

namespace kniommu {

// X-macro: one line per mutant: name and the bug it injects. The refinement suite's mutation test
// iterates this list, so a mutant added here is automatically required to be caught.
#define KNIOMMU_MUTANT_LIST(X)                                                                \
  X(NoIotlbInvalidateOnRevoke, "closing a grant skips the IOTLB invalidation")                \
  X(PsiMaskTooSmall, "page-selective mask from the rounded-up size, ignoring alignment")      \
  X(TableFreedBeforeInvalidation, "page-table frame freed before its invalidation completes") \
  X(SuperpageSplitLeavesMapped, "unmap over superpages leaves part of the range mapped")      \
  X(UnmapStopsAtTableBoundary, "unmap stops at the end of the first table page")              \
  X(WrongDidInInvalidation, "IOTLB invalidation uses a DID off by one")                       \
  X(DidReusedWithoutInvalidation, "domain teardown skips its DSI; the DID is reused stale")   \
  X(ContextLeftPresentAfterDetach, "detach leaves the context entry present")                 \
  X(DeviceAttachedTwice, "attach to a second domain does not check the first")                \
  X(AutoDomainCreatedTwice, "every KnIommuAttachDevice creates a new automatic domain")       \
  X(WriteForToDevice, "DMA_DIR_TO_DEVICE grants write permission")                            \
  X(GrantSurvivesExit, "process exit leaves the grants of its domains mapped")                \
  X(NoContextInvalidateOnDetach, "detach clears the context entry without invalidating it")   \
  X(FaultRecordOverwritten, "hardware overwrites a pending fault record, never sets PFO")     \
  X(SuperpageIgnoresSllps, "page table writes 2 MiB / 1 GiB leaves SLLPS does not advertise") \
  X(PsiAddressUnaligned, "page-selective invalidation address not aligned to its mask")       \
  X(SkipsCacheFlush, "detach leaves the cleared context entry in the CPU cache (ECAP.C = 0)")

enum class Mutant {
  None,
#define KNIOMMU_MUTANT_ENUM(name, text) name,
  KNIOMMU_MUTANT_LIST(KNIOMMU_MUTANT_ENUM)
#undef KNIOMMU_MUTANT_ENUM
};

struct MutantInfo {
  Mutant id;
  std::string_view name;
  std::string_view description;
};

inline constexpr MutantInfo kMutants[] = {
#define KNIOMMU_MUTANT_INFO(name, text) {Mutant::name, #name, text},
    KNIOMMU_MUTANT_LIST(KNIOMMU_MUTANT_INFO)
#undef KNIOMMU_MUTANT_INFO
};

#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
std::optional<Mutant> mutant_from_name(std::string_view name);
std::string_view mutant_name(Mutant m);

inline constexpr bool kMutantsCompiled = true;
// The active mutant (process-wide). Reads KNIOMMU_MUTANT once on first use.
Mutant active_mutant();
void set_active_mutant(Mutant m);
inline bool mutant(Mutant m) { return active_mutant() == m; }

// RAII selection for tests.
class ScopedMutant {
 public:
  explicit ScopedMutant(Mutant m) : previous_(active_mutant()) { set_active_mutant(m); }
  ~ScopedMutant() { set_active_mutant(previous_); }
  ScopedMutant(const ScopedMutant&) = delete;
  ScopedMutant& operator=(const ScopedMutant&) = delete;

 private:
  Mutant previous_;
};
#else
inline constexpr bool kMutantsCompiled = false;
// consteval: every use is a compile-time false, so no call and no symbol remains even at -O0.
consteval bool mutant(Mutant) { return false; }
#endif

}  // namespace kniommu
