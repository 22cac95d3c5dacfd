#include "mutation.h"

#include <atomic>
#include <cstdlib>

namespace kniommu {

#if defined(KNIOMMU_MUTANTS) && KNIOMMU_MUTANTS
std::optional<Mutant> mutant_from_name(std::string_view name) {
  if (name.empty() || name == "None") return Mutant::None;
  for (const auto& m : kMutants)
    if (m.name == name) return m.id;
  return std::nullopt;
}

std::string_view mutant_name(Mutant m) {
  for (const auto& info : kMutants)
    if (info.id == m) return info.name;
  return "None";
}

namespace {
Mutant initial_from_env() {
  const char* env = std::getenv("KNIOMMU_MUTANT");
  if (env == nullptr) return Mutant::None;
  // An unknown name must not silently test nothing: abort loudly.
  auto m = mutant_from_name(env);
  if (!m) std::abort();
  return *m;
}
std::atomic<Mutant>& slot() {
  static std::atomic<Mutant> active{initial_from_env()};
  return active;
}
}  // namespace

Mutant active_mutant() { return slot().load(std::memory_order_relaxed); }
void set_active_mutant(Mutant m) { slot().store(m, std::memory_order_relaxed); }
#endif

}  // namespace kniommu
