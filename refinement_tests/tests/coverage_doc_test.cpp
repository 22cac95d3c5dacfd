// One source of truth for the per-call Retcodes: the table of docs/semantics.md "Retcodes per
// call". The coverage requirements (coverage_requirements.cpp) keep the same table in code; this
// test parses the document and fails on any difference, and shows the comparison catches an
// edited document.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
// GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s std::regex at -O1 (the asan
// preset); the warning is about the library's own std::function state, not this file's code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#include <set>
#include <sstream>

#include "coverage_requirements.h"

namespace kniommu::conformance::coverage {
namespace {

using Table = std::map<std::string, std::set<std::string>>;

// Call -> Retcodes from the markdown table under "## Retcodes per call".
Table parse_doc(const std::string& text) {
  Table t;
  std::istringstream in(text);
  bool in_section = false;
  const std::regex code("`([A-Za-z]+)`");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Retcodes per call";
    if (!in_section || line.rfind("| `", 0) != 0) continue;
    const auto bar = line.find('|', 2);
    const std::string calls = line.substr(2, bar - 2), checks = line.substr(bar + 1);
    std::set<std::string> rcs;
    for (std::sregex_iterator it(checks.begin(), checks.end(), code), end; it != end; ++it)
      if ((*it)[1].str().rfind("rc", 0) == 0) rcs.insert((*it)[1].str());
    if (checks.find("Inval") != std::string::npos) rcs.insert("rcInvalidArgument");
    if (checks.find("OOM") != std::string::npos) rcs.insert("rcOutOfMemory");
    std::string lower = checks;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower.find("handle checks") != std::string::npos) {
      rcs.insert("rcInvalidArgument");
      rcs.insert("rcHandleRevoked");
    }
    for (std::sregex_iterator it(calls.begin(), calls.end(), code), end; it != end; ++it)
      t[(*it)[1].str()] = rcs;
  }
  return t;
}

Table in_code() {
  Table t;
  for (const DocumentedCall& c : documented_retcodes())
    t[c.call] = std::set<std::string>(c.retcodes.begin(), c.retcodes.end());
  return t;
}

std::string read_doc() {
  std::ifstream f(KNIOMMU_SEMANTICS_MD);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(CoverageDoc, RetcodeTableMatchesSemanticsMd) {
  const std::string doc = read_doc();
  ASSERT_FALSE(doc.empty()) << "cannot read " << KNIOMMU_SEMANTICS_MD;
  const Table parsed = parse_doc(doc);
  EXPECT_EQ(parsed.size(), 14u);  // 12 rows, two of them name two calls
  EXPECT_EQ(parsed, in_code());
}

TEST(CoverageDoc, AnEditedDocumentIsCaught) {
  std::string doc = read_doc();
  const std::string busy = "attached to any other domain → `rcBusy`; ";
  const auto at = doc.find(busy);
  ASSERT_NE(at, std::string::npos);
  doc.erase(at, busy.size());  // KnIommuAttachDevice no longer documents rcBusy
  const Table parsed = parse_doc(doc);
  EXPECT_NE(parsed, in_code());
  EXPECT_EQ(parsed.at("KnIommuAttachDevice").count("rcBusy"), 0u);
  EXPECT_EQ(in_code().at("KnIommuAttachDevice").count("rcBusy"), 1u);
}

TEST(CoverageDoc, EveryDocumentedRetcodeIsARequirementOnEveryConfiguration) {
  for (const HwConfig& cfg : standard_configs()) {
    std::set<std::string> keys;
    for (const Requirement& r : requirements(cfg)) keys.insert(r.key);
    for (const auto& [call, rcs] : in_code())
      for (const std::string& rc : rcs)
        EXPECT_EQ(keys.count("call:" + call + ":" + rc), 1u)
            << cfg.name << " " << call << " " << rc;
  }
}

}  // namespace
}  // namespace kniommu::conformance::coverage
