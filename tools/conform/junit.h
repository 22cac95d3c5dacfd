// JUnit XML for a conformance run: one <testcase> per hardware configuration, so CI systems show
// which configuration failed and with which counterexample.
#pragma once

#include <string>

#include "kniommu/conformance.h"

namespace kniommu::conform {

// `shard` ("I/N") is recorded per test case as a property, for `kniommu-conform merge`.
std::string junit_xml(const conformance::ConformanceResult& result, const std::string& suite_name,
                      const std::string& shard = "0/1");

}  // namespace kniommu::conform
