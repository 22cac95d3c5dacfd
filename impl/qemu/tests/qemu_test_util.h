// Shared by the `qemu` tests: skip (CTest reports SKIPPED) when QEMU is not installed, and the
// base configuration every QEMU test starts from.
#pragma once

#include <gtest/gtest.h>
#include <cstdlib>
#include <string>

#include "kniommu/sim.h"

namespace kniommu::qemu::test {

// The backend looks the binary up in PATH; so does this check.
inline bool qemu_installed() {
  return std::system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0;
}

#define KNIOMMU_REQUIRE_QEMU()                                                             \
  do {                                                                                     \
    if (!::kniommu::qemu::test::qemu_installed())                                          \
      GTEST_SKIP() << "qemu-system-x86_64 not installed (Debian package qemu-system-x86)"; \
  } while (0)

inline KnSimConfig qemu_config(const uint16_t* devices, size_t count) {
  KnSimConfig c;
  KnSimDefaultConfig(&c);
  c.hardware = KN_SIM_HARDWARE_QEMU;
  c.phys_mem_bytes = 512ull << 20;
  c.devices = devices;
  c.device_count = count;
  return c;
}

}  // namespace kniommu::qemu::test
