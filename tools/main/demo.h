// The demo system of the main job: three driver processes on a five-device machine, with
// automatic and created domains, several buffers in various directions (one shared by two domains
// of one process), captured as a snapshot with full metadata for kniommu-audit.
#pragma once

#include <string>

#include "kniommu/retcode.h"
#include "snapshot/format.h"

namespace kniommu::demo {

struct Demo {
  snapshot::Snapshot snapshot;  // tables + metadata
  std::string description;      // what was set up, for people
};

// Builds the system, captures it and tears it down. On failure returns the Retcode of the call
// that failed and names it in `error`.
Retcode build_demo(Demo& out, std::string& error);

}  // namespace kniommu::demo
