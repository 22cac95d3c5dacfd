#include "live/qmp_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace kniommu::live {
namespace {

// Large replies (HMP `info qtree`, `info mtree`) are a few hundred KiB at most.
constexpr std::size_t kMaxLine = 16u << 20;

}  // namespace

QmpClient::~QmpClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool QmpClient::connect(const std::string& socket_path, std::string& error, int timeout_ms) {
  timeout_ms_ = timeout_ms;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    error = "QMP socket path too long: " + socket_path;
    return false;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    error = "cannot connect to QMP socket " + socket_path + ": " + std::strerror(errno);
    return false;
  }
  const auto greeting = read_message(error);
  if (!greeting) return false;
  if (greeting->get("QMP") == nullptr) {
    error = "not a QMP server (no greeting) at " + socket_path;
    return false;
  }
  Json ignored;
  return execute("qmp_capabilities", "", ignored, error);
}

bool QmpClient::send_line(const std::string& line, std::string& error) {
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::send(fd_, line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = std::string("QMP connection lost while sending: ") + std::strerror(errno);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<Json> QmpClient::read_message(std::string& error) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
  while (true) {
    if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
      const std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
      auto msg = parse_json(line);
      if (!msg || msg->type != Json::Type::kObject) {
        error = "malformed QMP message: " + line.substr(0, 200);
        return std::nullopt;
      }
      return msg;
    }
    if (buffer_.size() > kMaxLine) {
      error = "QMP message longer than 16 MiB";
      return std::nullopt;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    pollfd p{fd_, POLLIN, 0};
    const int ready = left > 0 ? ::poll(&p, 1, static_cast<int>(left)) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      error = "QMP: no reply within " + std::to_string(timeout_ms_) + " ms";
      return std::nullopt;
    }
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "QMP connection closed by QEMU";
      return std::nullopt;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

bool QmpClient::execute(const std::string& command, const std::string& arguments, Json& result,
                        std::string& error) {
  std::string line = "{\"execute\":" + json_quote(command);
  if (!arguments.empty()) line += ",\"arguments\":" + arguments;
  line += "}\n";
  if (!send_line(line, error)) return false;
  while (true) {
    auto msg = read_message(error);
    if (!msg) return false;
    if (msg->get("event") != nullptr) continue;  // asynchronous: STOP, RESUME, ...
    if (const Json* e = msg->get("error")) {
      const Json* desc = e->get("desc");
      error = "QMP " + command + " failed: " + (desc && desc->is_string() ? desc->text : "?");
      return false;
    }
    if (const Json* r = msg->get("return")) {
      result = *r;
      return true;
    }
    error = "QMP " + command + ": reply without return";
    return false;
  }
}

bool QmpClient::hmp(const std::string& command_line, std::string& output, std::string& error) {
  Json r;
  if (!execute("human-monitor-command", "{\"command-line\":" + json_quote(command_line) + "}", r,
               error)) {
    return false;
  }
  if (!r.is_string()) {
    error = "HMP " + command_line + ": reply is not text";
    return false;
  }
  output = r.text;
  return true;
}

}  // namespace kniommu::live
