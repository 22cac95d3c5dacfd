// Checks of the machine's state beyond the translation it implements: driver protocol
// violations the hardware saw, register state (GSTS shows translation enabled, FSTS and the fault
// recording registers as fault_log.h expects, no error bit ever), and frame accounting (frames in
// use against what the live buffers and the tables the hardware can reach need, plus a bound for
// the tables of domains no device shows). Each appends one line per discrepancy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw_view.h"
#include "sut.h"

namespace kniommu::conformance {

// frames_in_use minus the reachable table pages and the frames of live buffers (0 without the
// adapter's frames_in_use).
int64_t frames_beyond_visible_tables(const Sut& sut, const HwView& hw);
int64_t frames_beyond_visible_tables(const Sut& sut);

void check_protocol_violations(const Sut& sut, std::vector<std::string>& out);
void check_registers(const Sut& sut, std::vector<std::string>& out);
void check_frames(const Sut& sut, const HwView& hw, std::vector<std::string>& out);
// Path-reach counters that the hardware view shows (superpage leaves, DID reuse).
void record_hw_coverage(const Sut& sut, const HwView& hw);

}  // namespace kniommu::conformance
