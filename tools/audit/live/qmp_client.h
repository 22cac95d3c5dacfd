// A QMP (QEMU Machine Protocol) client over a unix socket: one JSON object per line each way,
// asynchronous events skipped. Every wait has a time limit, so a hung QEMU cannot hang the
// audit. Used only for reading (stop/cont, registers, table pages, device tree).
#pragma once

#include <optional>
#include <string>

#include "live/json.h"

namespace kniommu::live {

class QmpClient {
 public:
  QmpClient() = default;
  ~QmpClient();
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  // Connects, reads the greeting and leaves capability negotiation mode.
  bool connect(const std::string& socket_path, std::string& error, int timeout_ms = 5000);

  // Runs `command` with `arguments` (a JSON object's text, or empty). On success `result` is the
  // reply's "return" value; a QMP error reply or a lost connection returns false with `error`.
  bool execute(const std::string& command, const std::string& arguments, Json& result,
               std::string& error);
  // An HMP command through human-monitor-command; its printed output in `output`.
  bool hmp(const std::string& command_line, std::string& output, std::string& error);

 private:
  bool send_line(const std::string& line, std::string& error);
  std::optional<Json> read_message(std::string& error);

  int fd_ = -1;
  int timeout_ms_ = 5000;
  std::string buffer_;
};

}  // namespace kniommu::live
