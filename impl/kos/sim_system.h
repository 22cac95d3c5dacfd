// The definition behind the opaque KnSimSystem of kniommu/sim.h: the C harness object owns one
// kos::System. Internal: tests include it to reach System::digest().
#pragma once

#include <memory>

#include "kos/system.h"

struct KnSimSystem {
  std::unique_ptr<kniommu::kos::System> impl;
};
