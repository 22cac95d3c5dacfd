// libFuzzer entry point: any byte string given to the snapshot reader must be rejected with an
// error or accepted as a snapshot; an accepted snapshot must re-serialize to a readable file and
// survive the whole audit and its renderings. ASan/UBSan turn every out-of-bounds access into a
// crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "snapshot/reader.h"
#include "snapshot/writer.h"
#ifdef KNIOMMU_FUZZ_AUDIT
#include "analysis/analysis.h"
#include "render/render.h"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kniommu::snapshot;
  const auto result = read_snapshot(std::span(data, size));
  if (!result.snapshot) {
    if (result.error.message.empty() || result.error.offset > size) std::abort();
    return 0;
  }
  // Accepted input: writing it back and reading again must succeed (the writer emits only
  // what the reader accepts).
  if (!read_snapshot(write_snapshot(*result.snapshot)).snapshot) std::abort();
#ifdef KNIOMMU_FUZZ_AUDIT
  const auto report = kniommu::audit::analyze(*result.snapshot);
  if (kniommu::audit::render_text(report).empty() || kniommu::audit::render_json(report).empty() ||
      kniommu::audit::render_dot(report).empty()) {
    std::abort();
  }
#endif
  return 0;
}
