#include "child_run.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>

namespace kniommu::proofs {
namespace {

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

ChildOutcome run_in_child(const std::function<std::string()>& body, unsigned limit_ms,
                          std::string* out) {
  out->clear();
  int fds[2];
  if (::pipe(fds) != 0) return ChildOutcome::kFailed;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return ChildOutcome::kFailed;
  }
  if (pid == 0) {
    ::close(fds[0]);
    // Dies with the parent; if the parent is already gone, so is the reason to run.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(3);
    // Nothing may leave the child but its result: an exception unwinding past here would return
    // into the caller's code (a second copy of the test program running on).
    std::string result;
    try {
      result = body();
    } catch (...) {
      ::_exit(4);
    }
    const std::uint64_t n = result.size();
    const bool ok = write_all(fds[1], reinterpret_cast<const char*>(&n), sizeof n) &&
                    write_all(fds[1], result.data(), result.size());
    ::_exit(ok ? 0 : 2);
  }
  ::close(fds[1]);
  std::string data;
  bool eof = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limit_ms);
  while (!eof) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof = true;
    } else {
      data.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fds[0]);
  if (!eof) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!eof) return ChildOutcome::kStopped;
  std::uint64_t n = 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || data.size() < sizeof n) {
    return ChildOutcome::kFailed;
  }
  std::memcpy(&n, data.data(), sizeof n);
  if (data.size() - sizeof n != n) return ChildOutcome::kFailed;
  *out = data.substr(sizeof n);
  return ChildOutcome::kDone;
}

}  // namespace kniommu::proofs
