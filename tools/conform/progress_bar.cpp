#include "progress_bar.h"

#include <unistd.h>

#include <algorithm>

namespace kniommu::conform {

ProgressBar::ProgressBar(std::FILE* stream, bool enabled, std::size_t config_count)
    : stream_(stream), enabled_(enabled), config_count_(config_count) {}

bool ProgressBar::stream_is_tty(std::FILE* stream) { return isatty(fileno(stream)) != 0; }

void ProgressBar::update(const conformance::Progress& p) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (p.config != current_config_) {
    current_config_ = p.config;
    ++config_index_;
    config_start_ = now;
  }
  const bool last = p.cases_total > 0 && p.cases_done >= p.cases_total;
  if (!last && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  constexpr int kWidth = 30;
  const int total = std::max(p.cases_total, 1);
  const int filled = std::min(kWidth, p.cases_done * kWidth / total);
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double in_config = std::chrono::duration<double>(now - config_start_).count();
  const double rate = in_config > 0 ? static_cast<double>(p.commands_done) / in_config : 0;
  std::fprintf(stream_, "\r\033[K[%zu/%zu] %-12s [%s%s] %d/%d cases  %.0f commands/s  %.1fs",
               config_index_, std::max(config_count_, config_index_), p.config.c_str(),
               std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
               p.cases_done, p.cases_total, rate, seconds);
  std::fflush(stream_);
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!drawn_) return;
  std::fprintf(stream_, "\r\033[K");
  std::fflush(stream_);
  drawn_ = false;
}

}  // namespace kniommu::conform
