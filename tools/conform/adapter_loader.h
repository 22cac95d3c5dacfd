// Loads a third-party conformance adapter: a shared library exporting
// `const KnAdapterV1* kniommu_adapter_v1(void)` (refinement_tests/include/kniommu/adapter.h).
#pragma once

#include <memory>
#include <string>

#include "kniommu/adapter.h"

namespace kniommu::conform {

class LoadedAdapter {
 public:
  // nullptr with `error` set when the library cannot be loaded, lacks the entry point, or
  // returns a table of another ABI version or size.
  static std::unique_ptr<LoadedAdapter> open(const std::string& path, std::string& error);
  ~LoadedAdapter();
  LoadedAdapter(const LoadedAdapter&) = delete;
  LoadedAdapter& operator=(const LoadedAdapter&) = delete;

  const KnAdapterV1& table() const { return *table_; }

 private:
  LoadedAdapter(void* handle, const KnAdapterV1* table) : handle_(handle), table_(table) {}
  void* handle_;
  const KnAdapterV1* table_;
};

}  // namespace kniommu::conform
