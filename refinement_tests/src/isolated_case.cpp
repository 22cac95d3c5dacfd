#include "isolated_case.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>

namespace kniommu::conformance {
namespace {

using Clock = std::chrono::steady_clock;

// Wire format child -> parent: "kind commands message_length\n" message, then coverage lines.
std::string encode(const CaseReport& r) {
  std::ostringstream os;
  os << static_cast<int>(r.kind) << ' ' << r.commands << ' ' << r.message.size() << '\n'
     << r.message << coverage::serialize(r.counts);
  return os.str();
}

bool decode(const std::string& wire, CaseReport& out) {
  std::istringstream in(wire);
  int kind = -1;
  uint64_t commands = 0;
  size_t length = 0;
  if (!(in >> kind >> commands >> length) || in.get() != '\n') return false;
  if (kind < 0 || kind > static_cast<int>(CaseReport::Kind::Discarded)) return false;
  const size_t at = static_cast<size_t>(in.tellg());
  if (wire.size() < at + length) return false;
  out.kind = static_cast<CaseReport::Kind>(kind);
  out.commands = commands;
  out.message = wire.substr(at, length);
  return coverage::parse(wire.substr(at + length), out.counts);
}

void write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// The child's side: run, report, leave without running the parent's atexit handlers or
// flushing its stdio buffers (they belong to the parent).
[[noreturn]] void child_main(int fd, const std::function<CaseReport()>& body) {
  CaseReport r;
  try {
    r = body();
  } catch (const std::exception& e) {
    r.kind = CaseReport::Kind::Failed;
    r.message = std::string("uncaught exception: ") + e.what();
  } catch (...) {
    r.kind = CaseReport::Kind::Failed;
    r.message = "uncaught exception of unknown type";
  }
  write_all(fd, encode(r));
  ::close(fd);
  std::fflush(nullptr);  // the child's own output (RapidCheck verbose, adapter logs)
  ::_exit(0);
}

std::string describe_signal(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  const char* what = strsignal(sig);
  return std::string("SIG") + (abbrev != nullptr ? abbrev : std::to_string(sig).c_str()) + " (" +
         (what != nullptr ? what : "?") + ")";
}

// Kills (if still running) and reaps the child on every path out of the parent's side.
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ~ChildGuard() {
    if (pid_ <= 0) return;
    kill_now();
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  // Waits for the exit, then ends what is left of its process group (a group id is never
  // reused while members exist, so this cannot hit another group); returns the wait status.
  int reap() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    ::kill(-pid_, SIGKILL);
    pid_ = -1;
    return status;
  }
  // Reaps the child if it has exited (without waiting), then ends the rest of its group.
  bool try_reap(int& status) {
    pid_t r;
    while ((r = ::waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r != pid_) return false;
    ::kill(-pid_, SIGKILL);
    pid_ = -1;
    return true;
  }
  // The child and its process group (what it started and did not end itself).
  void kill_now() {
    if (pid_ <= 0) return;  // reaped: never kill(-1) / kill(1)
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
  }
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;

 private:
  pid_t pid_;
};

// The child running now: a runner interrupted (Ctrl-C, SIGTERM from a scheduler) ends it first,
// since a child in its own process group does not get the terminal's signals.
volatile sig_atomic_t g_running_child = 0;

void end_child_and_reraise(int sig) {
  const pid_t child = g_running_child;
  if (child > 0) {
    ::kill(-child, SIGKILL);
    ::kill(child, SIGKILL);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Installs the handler for signals whose action is still the default (a host program's own
// handlers are left alone).
void install_interrupt_handlers() {
  static const bool installed = [] {
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction old {};
      if (::sigaction(sig, nullptr, &old) != 0 || old.sa_handler != SIG_DFL) continue;
      struct sigaction sa {};
      sa.sa_handler = end_child_and_reraise;
      sigemptyset(&sa.sa_mask);
      ::sigaction(sig, &sa, nullptr);
    }
    return true;
  }();
  (void)installed;
}

// Shared with children: the completed-command count of the running case (so a report of a
// crashed case can say how far it got) and, for an optimistic configuration child, the heartbeat
// of its current case.
struct SharedPage {
  volatile uint64_t commands;
  std::atomic<uint64_t> case_seq;      // cases begun by the optimistic child
  std::atomic<int64_t> case_start_ns;  // steady clock at the case's start; 0 between cases
};
static_assert(std::atomic<uint64_t>::is_always_lock_free &&
                  std::atomic<int64_t>::is_always_lock_free,
              "the heartbeat is read across processes");

SharedPage* shared_page() {
  static SharedPage* page = [] {
    void* p = ::mmap(nullptr, sizeof(SharedPage), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return static_cast<SharedPage*>(nullptr);
    return new (p) SharedPage{0, {0}, {0}};
  }();
  return page;
}

volatile uint64_t* shared_progress() {
  SharedPage* page = shared_page();
  return page != nullptr ? &page->commands : nullptr;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// The optimistic child's exit codes other than 0 (all mean: fall back).
constexpr int kExitCaseFailed = 3;
constexpr int kExitException = 4;

// Test hook (tools/conform/tests/expect_fallback.sh): the optimistic child sabotages its own
// report so the fallback decision can be seen to hold. Read only in the child.
enum class Sabotage { None, Truncate, NoReport, ExitNonzero };
Sabotage sabotage() {
  const char* v = std::getenv("KNIOMMU_TEST_OPTIMISTIC_SABOTAGE");
  if (v == nullptr) return Sabotage::None;
  const std::string s = v;
  return s == "truncate" ? Sabotage::Truncate
         : s == "none"   ? Sabotage::NoReport
         : s == "exit1"  ? Sabotage::ExitNonzero
                         : Sabotage::None;
}

}  // namespace

CaseReport run_case_isolated(const std::function<CaseReport()>& body, bool isolate,
                             std::chrono::milliseconds timeout) {
  if (!isolate) return body();
  install_interrupt_handlers();
  volatile uint64_t* progress = shared_progress();
  if (progress != nullptr) *progress = 0;
  coverage::set_progress_counter(progress);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    CaseReport r;
    r.kind = CaseReport::Kind::Lost;
    r.message = std::string("cannot create a pipe for the child case: ") + std::strerror(errno);
    return r;
  }
  std::fflush(nullptr);  // nothing buffered may be written twice
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Its own process group, so a timeout also ends what the case started (e.g. an emulator
    // process of an adapter): the parent kills the group whose id is the child's PID.
    ::setpgid(0, 0);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
    ::close(fds[0]);
    child_main(fds[1], body);
  }
  ::close(fds[1]);
  CaseReport r;
  if (pid < 0) {
    ::close(fds[0]);
    r.kind = CaseReport::Kind::Lost;
    r.message = std::string("cannot fork the child case: ") + std::strerror(errno);
    return r;
  }
  ::setpgid(pid, pid);  // also from the parent: no race with a kill of the group
  g_running_child = pid;
  ChildGuard child(pid);
  std::string wire;
  bool timed_out = false;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buf[65536];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child finished or died
    wire.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) child.kill_now();
  const int status = child.reap();
  g_running_child = 0;
  const uint64_t done = progress != nullptr ? *progress : 0;
  if (timed_out) {
    r.kind = CaseReport::Kind::TimedOut;
    r.message = "case exceeded its time limit of " + std::to_string(timeout.count()) +
                " ms after " + std::to_string(done) +
                " completed commands; the child was killed (SIGKILL)";
    r.commands = done;
    return r;
  }
  if (WIFSIGNALED(status)) {
    r.kind = CaseReport::Kind::Crashed;
    r.message = "case crashed: " + describe_signal(WTERMSIG(status)) + " after " +
                std::to_string(done) + " completed commands";
    r.commands = done;
    return r;
  }
  if (!decode(wire, r)) {
    r = CaseReport{};
    r.kind = CaseReport::Kind::Lost;
    r.message = "case ended without a report (exit status " +
                std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ") after " +
                std::to_string(done) + " completed commands";
    r.commands = done;
  }
  return r;
}


void heartbeat_case_begin() {
  SharedPage* page = shared_page();
  if (page == nullptr) return;
  page->commands = 0;
  page->case_seq.fetch_add(1, std::memory_order_relaxed);
  page->case_start_ns.store(now_ns(), std::memory_order_release);
}

void heartbeat_case_end() {
  SharedPage* page = shared_page();
  if (page != nullptr) page->case_start_ns.store(0, std::memory_order_release);
}

void abandon_config_child() {
  std::fflush(nullptr);
  ::_exit(kExitCaseFailed);
}

std::optional<ConfigReport> usable_config_report(bool timed_out, int wait_status,
                                                 const std::string& wire, std::string& why_not) {
  if (timed_out) {
    why_not = "a case exceeded its time limit";
    return std::nullopt;
  }
  if (WIFSIGNALED(wait_status)) {
    why_not = "the child died of " + describe_signal(WTERMSIG(wait_status));
    return std::nullopt;
  }
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    why_not = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == kExitCaseFailed
                  ? "a case failed"
                  : "the child exited with status " +
                        std::to_string(WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1);
    return std::nullopt;
  }
  ConfigReport r;
  if (!decode_config_report(wire, r)) {
    why_not = wire.empty() ? "the child exited without a report"
                           : "the child's report is truncated or malformed (" +
                                 std::to_string(wire.size()) + " bytes)";
    return std::nullopt;
  }
  if (!r.passed) {
    why_not = "the property did not pass";
    return std::nullopt;
  }
  return r;
}

std::optional<ConfigReport> run_config_in_child(const std::function<ConfigReport()>& body,
                                                std::chrono::milliseconds timeout,
                                                std::string& why_not) {
  install_interrupt_handlers();
  SharedPage* page = shared_page();
  if (page == nullptr) {
    why_not = "no shared memory for the heartbeat";
    return std::nullopt;
  }
  page->commands = 0;
  page->case_seq.store(0);
  page->case_start_ns.store(0);
  coverage::set_progress_counter(&page->commands);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    why_not = std::string("cannot create a pipe: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::fflush(nullptr);  // nothing buffered may be written twice
  const pid_t pid = ::fork();
  if (pid == 0) {
    // As for a case child: its own process group (a timeout ends what it started), default
    // signal actions, no atexit handlers of the parent on the way out.
    ::setpgid(0, 0);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
    ::close(fds[0]);
    int code = 0;
    std::string wire;
    try {
      wire = encode_config_report(body());
    } catch (...) {
      code = kExitException;
    }
    switch (sabotage()) {
      case Sabotage::Truncate:
        wire.resize(wire.size() / 2);
        break;
      case Sabotage::NoReport:
        wire.clear();
        break;
      case Sabotage::ExitNonzero:
        code = 1;
        break;
      case Sabotage::None:
        break;
    }
    if (code == 0) write_all(fds[1], wire);
    ::close(fds[1]);
    std::fflush(nullptr);
    ::_exit(code);
  }
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    why_not = std::string("cannot fork: ") + std::strerror(errno);
    return std::nullopt;
  }
  ::setpgid(pid, pid);  // also from the parent: no race with a kill of the group
  g_running_child = pid;
  ChildGuard child(pid);
  std::string wire;
  bool timed_out = false;
  bool reaped = false;  // exited while something it started still holds the pipe open
  int status = 0;
  const int64_t limit_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  for (;;) {
    // The watchdog: only the running case is timed (generation between cases is the runner's
    // own code). A poll tick of at most 100 ms bounds how late a hang is seen.
    const int64_t start = page->case_start_ns.load(std::memory_order_acquire);
    int wait_ms = 100;
    if (start != 0 && !reaped) {
      const int64_t left = start + limit_ns - now_ns();
      if (left <= 0) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(std::min<int64_t>(wait_ms, left / 1000000 + 1));
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, reaped ? 0 : wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0 && reaped) break;  // all it wrote is read
    if (ready == 0 && child.try_reap(status)) reaped = true;
    if (ready <= 0) continue;
    char buf[65536];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child finished or died
    wire.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) child.kill_now();
  if (!reaped) status = child.reap();
  g_running_child = 0;
  return usable_config_report(timed_out, status, wire, why_not);
}

}  // namespace kniommu::conformance
