// One QEMU process driven over the qtest text protocol (QEMU docs/devel/qtest.rst): the program
// is the only "CPU" of the machine. The client owns a private temporary directory (socket, BIOS
// image, QEMU's stderr), listens on the socket before QEMU starts (QEMU connects to it), and stops
// QEMU by PID (SIGTERM, then SIGKILL) on destruction and on every failed start, removing the
// directory. QEMU gets SIGKILL if the creating thread's process dies first (PR_SET_PDEATHSIG).
// Every wait is bounded by a timeout, so a dead or stuck QEMU gives an error, not a hang.
//
// Pipelining: commands whose reply carries no value (writes) are sent at once and their "OK" is
// collected before the next command that needs a value, so a burst of table writes costs one
// round trip. A FAIL reply or a lost connection makes the client failed (sticky): later reads
// return all-ones and `failed()` / `error()` say what happened.
//
// Thread safety: every public call takes an internal recursive mutex; a caller that needs several
// commands to be atomic (a device DMA) holds `lock()` around them.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kniommu/retcode.h"

namespace kniommu::qemu {

struct LaunchOptions {
  std::string binary = "qemu-system-x86_64";  // looked up in PATH unless it contains '/'
  std::vector<std::string> args;              // machine arguments; -bios/-qtest are added here
  int connect_timeout_ms = 15000;             // QEMU start until its first reply
  int reply_timeout_ms = 10000;               // any later reply
};

class QtestClient {
 public:
  // rcOk and *out; otherwise rcNotReady (binary missing), rcInvalidArgument (QEMU refused the
  // command line: *error holds QEMU's own message), rcTimeout (no connection in time) or
  // rcInternalError (temporary directory, socket, spawn), with *error set and nothing left behind.
  static Retcode launch(const LaunchOptions& options, std::unique_ptr<QtestClient>* out,
                        std::string* error);
  ~QtestClient();
  QtestClient(const QtestClient&) = delete;
  QtestClient& operator=(const QtestClient&) = delete;

  std::unique_lock<std::recursive_mutex> lock() { return std::unique_lock(mu_); }
  bool failed() const;
  std::string error() const;
  pid_t pid() const { return pid_; }
  const std::string& directory() const { return dir_; }

  // Fire-and-forget (pipelined) and value-returning commands.
  void post(const std::string& line);
  // The text after "OK " (empty when none); false and failed() on FAIL, timeout or a dead QEMU.
  bool query(const std::string& line, std::string* value);

  std::uint64_t readq(std::uint64_t addr);
  std::uint32_t readl(std::uint64_t addr);
  void writeq(std::uint64_t addr, std::uint64_t value);
  void writel(std::uint64_t addr, std::uint32_t value);
  bool read(std::uint64_t addr, void* out, std::size_t len);
  void write(std::uint64_t addr, const void* in, std::size_t len);
  void memset(std::uint64_t addr, std::size_t len, std::uint8_t byte);
  void outl(std::uint16_t port, std::uint32_t value);
  std::uint32_t inl(std::uint16_t port);

  // Waits until every posted command was answered; false if one failed.
  bool sync();

  std::uint64_t commands_sent() const { return sent_; }

 private:
  static constexpr std::size_t kMaxPending = 128;
  QtestClient() = default;
  bool read_reply(std::string* value, int timeout_ms);
  bool read_line(std::string* line, int timeout_ms);
  void fail(const std::string& why);
  void stop_process();
  void remove_directory();

  mutable std::recursive_mutex mu_;
  std::string dir_;
  std::string socket_path_, bios_path_, stderr_path_;
  int listen_fd_ = -1;
  int fd_ = -1;
  pid_t pid_ = -1;
  std::string inbuf_;
  std::size_t pending_ = 0;  // posted commands whose reply is not read yet
  std::uint64_t sent_ = 0;
  bool failed_ = false;
  std::string error_;
  int reply_timeout_ms_ = 10000;
};

// QEMU's stderr text (first line that says what it refused), for error messages.
std::string first_error_line(const std::string& text);

}  // namespace kniommu::qemu
