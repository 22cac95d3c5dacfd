// A one-line progress bar for long conformance runs, drawn only when the stream is a terminal
// (so logs and CI output stay clean). Redraws at most every 100 ms. Shows the configuration, the
// cases done and the commands per second of the configuration in progress.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "kniommu/conformance.h"

namespace kniommu::conform {

class ProgressBar {
 public:
  // enabled = false draws nothing. stream_is_tty() decides the default.
  ProgressBar(std::FILE* stream, bool enabled, std::size_t config_count);
  static bool stream_is_tty(std::FILE* stream);

  void update(const conformance::Progress& progress);
  void clear();  // erase the line before printing anything else

 private:
  std::FILE* stream_;
  bool enabled_;
  std::size_t config_count_;
  std::size_t config_index_ = 0;
  std::string current_config_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
  std::chrono::steady_clock::time_point config_start_ = start_;
};

}  // namespace kniommu::conform
