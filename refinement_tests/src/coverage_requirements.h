// What a conformance run must have exercised on a configuration (coverage.h keys), and what is
// unreachable there by design, with the reason. The per-call Retcode table is the one of
// docs/semantics.md "Retcodes per call"; coverage_doc_test parses that table and fails when the
// two differ, so the document stays the single source of truth.
#pragma once

#include <string>
#include <vector>

#include "kniommu/conformance.h"

namespace kniommu::conformance::coverage {

struct DocumentedCall {
  std::string call;                   // e.g. "KnIommuAttachDevice"
  std::vector<std::string> retcodes;  // Retcode names the row documents, e.g. "rcBusy"
};
// One entry per call name (rows naming two calls, "A / B", give both the row's Retcodes).
const std::vector<DocumentedCall>& documented_retcodes();

struct Requirement {
  std::string key;
  std::string unreachable;  // empty: the run must observe `key`; else why it cannot happen here
};
std::vector<Requirement> requirements(const HwConfig& config);

}  // namespace kniommu::conformance::coverage
