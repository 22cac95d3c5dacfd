// Shared by the `qemu` tests: skip (CTest reports SKIPPED) when QEMU is not installed, and the
// base configuration every QEMU test starts from.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "kniommu/sim.h"

namespace kniommu::qemu::test {

inline bool qemu_installed() {
  for (const char* dir : {"/usr/bin/", "/usr/local/bin/", "/bin/"})
    if (::access((std::string(dir) + "qemu-system-x86_64").c_str(), X_OK) == 0) return true;
  return false;
}

#define KNIOMMU_REQUIRE_QEMU()                                                               \
  do {                                                                                       \
    if (!::kniommu::qemu::test::qemu_installed())                                            \
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
