#include "qemu/qtest_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "qemu/halt_bios.h"

namespace kniommu::qemu {
namespace {

using Clock = std::chrono::steady_clock;

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

bool find_in_path(const std::string& name, std::string* full) {
  if (name.find('/') != std::string::npos) {
    *full = name;
    return ::access(name.c_str(), X_OK) == 0;
  }
  const char* path = std::getenv("PATH");
  std::stringstream ss(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(ss, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) {
      *full = candidate;
      return true;
    }
  }
  return false;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace

std::string first_error_line(const std::string& text) {
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);)
    if (!line.empty()) return line;
  return "(no message)";
}

Retcode QtestClient::launch(const LaunchOptions& options, std::unique_ptr<QtestClient>* out,
                            std::string* error) {
  std::string binary;
  if (!find_in_path(options.binary, &binary)) {
    *error = options.binary + " not found (install the Debian package qemu-system-x86)";
    return rcNotReady;
  }
  std::unique_ptr<QtestClient> c(new QtestClient());
  c->reply_timeout_ms_ = options.reply_timeout_ms;
  char tmpl[] = "/tmp/kniommu-qemu-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    *error = std::string("mkdtemp: ") + std::strerror(errno);
    return rcInternalError;
  }
  c->dir_ = tmpl;
  c->socket_path_ = c->dir_ + "/qtest.sock";
  c->bios_path_ = c->dir_ + "/halt.bin";
  c->stderr_path_ = c->dir_ + "/stderr.txt";
  if (!write_halt_bios(c->bios_path_)) {
    *error = "cannot write " + c->bios_path_;
    return rcInternalError;  // ~QtestClient removes the directory
  }
  c->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", c->socket_path_.c_str());
  if (c->listen_fd_ < 0 ||
      ::bind(c->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(c->listen_fd_, 1) != 0) {
    *error = std::string("qtest socket: ") + std::strerror(errno);
    return rcInternalError;
  }

  std::vector<std::string> argv_s = {
      binary,       "-bios",    c->bios_path_, "-qtest", "unix:" + c->socket_path_,
      "-qtest-log", "/dev/null"};
  argv_s.insert(argv_s.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  // KNIOMMU_QEMU_LOG=FILE keeps QEMU's stderr (error_report lines, -trace output) for debugging.
  const char* log = std::getenv("KNIOMMU_QEMU_LOG");
  const std::string err_path = log != nullptr && *log != 0 ? log : c->stderr_path_;
  const int fd_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int fd_out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  const int fd_err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const pid_t parent = ::getpid();
  // fork + exec rather than posix_spawn: the child asks for SIGKILL when its parent dies, so a
  // test killed by a timeout (no destructor runs) does not leave QEMU spinning. Only
  // async-signal-safe calls between fork and exec. (PR_SET_PDEATHSIG follows the creating
  // thread: a machine must not outlive the thread that created it.)
  const pid_t pid = (fd_in < 0 || fd_out < 0 || fd_err < 0) ? -1 : ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(fd_in, 0);
    ::dup2(fd_out, 1);
    ::dup2(fd_err, 2);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  const int fork_errno = errno;
  for (int fd : {fd_in, fd_out, fd_err})
    if (fd >= 0) ::close(fd);
  if (pid < 0) {
    *error = "starting " + binary + ": " + std::strerror(fork_errno);
    return rcInternalError;
  }
  c->pid_ = pid;

  // Wait for QEMU to connect, watching for an early exit (a refused option).
  const auto deadline = Clock::now() + std::chrono::milliseconds(options.connect_timeout_ms);
  while (c->fd_ < 0) {
    int status = 0;
    if (::waitpid(c->pid_, &status, WNOHANG) == c->pid_) {
      c->pid_ = -1;
      *error = "QEMU exited at start: " + first_error_line(slurp(c->stderr_path_));
      return rcInvalidArgument;
    }
    const int left = remaining_ms(deadline);
    if (left == 0) {
      *error = "QEMU did not connect to the qtest socket within " +
               std::to_string(options.connect_timeout_ms) + " ms";
      return rcTimeout;
    }
    pollfd p{c->listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, std::min(left, 50)) > 0)
      c->fd_ = ::accept4(c->listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  }
  // The first reply proves the machine is up (60-100 ms after start).
  std::string v;
  c->reply_timeout_ms_ = options.connect_timeout_ms;
  if (!c->query("readl 0x0", &v)) {
    // QEMU connects before it creates the devices: a refused -device closes the socket.
    const auto exit_deadline = Clock::now() + std::chrono::milliseconds(2000);
    int status = 0;
    while (c->pid_ > 0 && Clock::now() < exit_deadline) {
      if (::waitpid(c->pid_, &status, WNOHANG) == c->pid_)
        c->pid_ = -1;
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (c->pid_ <= 0) {
      *error = "QEMU exited at start: " + first_error_line(slurp(c->stderr_path_));
      return rcInvalidArgument;
    }
    *error = "QEMU did not answer: " + c->error_;
    return rcTimeout;
  }
  c->reply_timeout_ms_ = options.reply_timeout_ms;
  *out = std::move(c);
  return rcOk;
}

QtestClient::~QtestClient() {
  stop_process();
  if (fd_ >= 0) ::close(fd_);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  remove_directory();
}

void QtestClient::stop_process() {
  if (pid_ <= 0) return;
  // QEMU does not exit when the socket closes: SIGTERM, bounded wait, then SIGKILL.
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::milliseconds(2000);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (Clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
}

void QtestClient::remove_directory() {
  if (dir_.empty()) return;
  for (const std::string& p : {socket_path_, bios_path_, stderr_path_}) ::unlink(p.c_str());
  ::rmdir(dir_.c_str());
  dir_.clear();
}

bool QtestClient::failed() const {
  std::lock_guard g(mu_);
  return failed_;
}

std::string QtestClient::error() const {
  std::lock_guard g(mu_);
  return error_;
}

void QtestClient::fail(const std::string& why) {
  if (failed_) return;
  failed_ = true;
  int status = 0;
  std::string detail;
  if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    detail = " (QEMU exited: " + first_error_line(slurp(stderr_path_)) + ")";
  }
  error_ = why + detail;
  // Callers above PhysMem/Mmio see only all-ones values from now on; say why once, loudly.
  std::fprintf(stderr, "kniommu: QEMU backend failed: %s\n", error_.c_str());
}

void QtestClient::post(const std::string& line) {
  std::lock_guard g(mu_);
  if (failed_) return;
  // QEMU answers every command; unread replies fill the socket and QEMU stops reading. Collect
  // them before the window grows large.
  if (pending_ >= kMaxPending && !sync()) return;
  const std::string msg = line + "\n";
  for (std::size_t off = 0; off < msg.size();) {
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, reply_timeout_ms_) <= 0) {
      fail("qtest socket not writable within " + std::to_string(reply_timeout_ms_) + " ms");
      return;
    }
    const ssize_t n = ::send(fd_, msg.data() + off, msg.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      fail("qtest socket closed while sending");
      return;
    }
    off += static_cast<std::size_t>(n);
  }
  ++pending_;
  ++sent_;
}

bool QtestClient::read_line(std::string* line, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (const std::size_t nl = inbuf_.find('\n'); nl != std::string::npos) {
      *line = inbuf_.substr(0, nl);
      inbuf_.erase(0, nl + 1);
      return true;
    }
    const int left = remaining_ms(deadline);
    pollfd p{fd_, POLLIN, 0};
    const int r = left > 0 ? ::poll(&p, 1, left) : 0;
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      fail("no qtest reply within " + std::to_string(timeout_ms) + " ms");
      return false;
    }
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fail("qtest connection lost");
      return false;
    }
    inbuf_.append(buf, static_cast<std::size_t>(n));
  }
}

// One reply: asynchronous "IRQ ..." lines are skipped; "OK [value]" or "FAIL ...".
bool QtestClient::read_reply(std::string* value, int timeout_ms) {
  for (;;) {
    std::string line;
    if (!read_line(&line, timeout_ms)) return false;
    if (line.rfind("IRQ", 0) == 0) continue;
    --pending_;
    if (line.rfind("OK", 0) == 0) {
      if (value != nullptr) *value = line.size() > 3 ? line.substr(3) : std::string();
      return true;
    }
    fail("qtest: " + line);
    return false;
  }
}

bool QtestClient::sync() {
  std::lock_guard g(mu_);
  while (!failed_ && pending_ > 0)
    if (!read_reply(nullptr, reply_timeout_ms_)) return false;
  return !failed_;
}

bool QtestClient::query(const std::string& line, std::string* value) {
  std::lock_guard g(mu_);
  if (!sync()) return false;
  post(line);
  return !failed_ && read_reply(value, reply_timeout_ms_);
}

std::uint64_t QtestClient::readq(std::uint64_t addr) {
  std::string v;
  if (!query("readq " + hex(addr), &v)) return ~std::uint64_t{0};
  return std::strtoull(v.c_str(), nullptr, 16);
}

std::uint32_t QtestClient::readl(std::uint64_t addr) {
  std::string v;
  if (!query("readl " + hex(addr), &v)) return ~std::uint32_t{0};
  return static_cast<std::uint32_t>(std::strtoull(v.c_str(), nullptr, 16));
}

void QtestClient::writeq(std::uint64_t addr, std::uint64_t value) {
  post("writeq " + hex(addr) + " " + hex(value));
}

void QtestClient::writel(std::uint64_t addr, std::uint32_t value) {
  post("writel " + hex(addr) + " " + hex(value));
}

bool QtestClient::read(std::uint64_t addr, void* out, std::size_t len) {
  auto* bytes = static_cast<std::uint8_t*>(out);
  if (len == 0) return true;
  std::string v;
  if (!query("read " + hex(addr) + " " + hex(len), &v) || v.size() != 2 + 2 * len) {
    if (!failed()) {
      std::lock_guard g(mu_);
      fail("qtest: malformed read reply");
    }
    std::fill(bytes, bytes + len, 0xFF);
    return false;
  }
  for (std::size_t i = 0; i < len; ++i) {
    const char pair[3] = {v[2 + 2 * i], v[3 + 2 * i], 0};
    bytes[i] = static_cast<std::uint8_t>(std::strtoul(pair, nullptr, 16));
  }
  return true;
}

void QtestClient::write(std::uint64_t addr, const void* in, std::size_t len) {
  if (len == 0) return;
  static const char kDigits[] = "0123456789abcdef";
  const auto* bytes = static_cast<const std::uint8_t*>(in);
  std::string line = "write " + hex(addr) + " " + hex(len) + " 0x";
  line.reserve(line.size() + 2 * len);
  for (std::size_t i = 0; i < len; ++i) {
    line.push_back(kDigits[bytes[i] >> 4]);
    line.push_back(kDigits[bytes[i] & 0xF]);
  }
  post(line);
}

void QtestClient::memset(std::uint64_t addr, std::size_t len, std::uint8_t byte) {
  if (len != 0) post("memset " + hex(addr) + " " + hex(len) + " " + hex(byte));
}

void QtestClient::outl(std::uint16_t port, std::uint32_t value) {
  post("outl " + hex(port) + " " + hex(value));
}

std::uint32_t QtestClient::inl(std::uint16_t port) {
  std::string v;
  if (!query("inl " + hex(port), &v)) return ~std::uint32_t{0};
  return static_cast<std::uint32_t>(std::strtoull(v.c_str(), nullptr, 16));
}

}  // namespace kniommu::qemu
