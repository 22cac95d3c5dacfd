// libFuzzer target for the shard-result reader of `kniommu-conform merge` (JSON and JUnit XML):
// any bytes must give a ShardFile or a refusal with a message — never a crash, an uncaught
// exception, a hang or unbounded memory (run_fuzz_merge.sh builds it with clang++).
#include <cstddef>
#include <cstdint>
#include <string>

#include "merge_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto shard = kniommu::conform::parse_shard_text(text, "fuzz-input", error);
  if (!shard && error.empty()) __builtin_trap();  // a refusal must say why
  if (shard && shard->configs.empty()) __builtin_trap();
  return 0;
}
