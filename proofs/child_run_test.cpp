// The proofs' child processes (child_run.h): a result comes back whole, a child past its limit is
// stopped and reaped, a child that dies is a failure, never a result.
#include "child_run.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace kniommu::proofs {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(ChildRun, ReturnsTheBodysResultWhole) {
  std::string out;
  // Larger than a pipe's buffer, with zero bytes in it.
  std::string big(200'000, 'x');
  big[7] = '\0';
  ASSERT_EQ(run_in_child([&] { return big; }, 60'000, &out), ChildOutcome::kDone);
  EXPECT_EQ(out, big);
  ASSERT_EQ(run_in_child([] { return std::string(); }, 60'000, &out), ChildOutcome::kDone);
  EXPECT_EQ(out, "");
}

TEST(ChildRun, StopsAndReapsAChildPastItsLimit) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const auto t0 = std::chrono::steady_clock::now();
  std::string out = "stale";
  const ChildOutcome o = run_in_child(
      [&] {
        const pid_t me = ::getpid();
        (void)!::write(fds[1], &me, sizeof me);
        for (;;) ::pause();
        return std::string("never");
      },
      300, &out);
  const double secs = seconds_since(t0);
  ::close(fds[1]);
  pid_t child = 0;
  ASSERT_EQ(::read(fds[0], &child, sizeof child), static_cast<ssize_t>(sizeof child));
  ::close(fds[0]);
  EXPECT_EQ(o, ChildOutcome::kStopped);
  EXPECT_EQ(out, "");
  EXPECT_LT(secs, 30.0);
  // Reaped, not a zombie: the PID names no process of ours any more.
  EXPECT_EQ(::kill(child, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(ChildRun, AChildThatDiesIsAFailureNotAResult) {
  std::string out;
  EXPECT_EQ(run_in_child(
                [] {
                  ::_exit(0);  // exits cleanly but reports nothing
                  return std::string("x");
                },
                60'000, &out),
            ChildOutcome::kFailed);
  EXPECT_EQ(run_in_child(
                [] {
                  ::kill(::getpid(), SIGKILL);
                  return std::string("x");
                },
                60'000, &out),
            ChildOutcome::kFailed);
  EXPECT_EQ(out, "");
}

TEST(ChildRun, AThrowingBodyIsAFailureAndItsChildNeverReturnsHere) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t me = ::getpid();
  std::string out;
  ChildOutcome o = ChildOutcome::kDone;
  try {
    o = run_in_child([]() -> std::string { throw std::runtime_error("no result"); }, 60'000, &out);
  } catch (...) {
  }
  if (::getpid() != me) {  // the child unwound into this test: say so, and leave
    (void)!::write(fds[1], "E", 1);
    ::_exit(0);
  }
  ::close(fds[1]);
  char c = 0;
  EXPECT_EQ(::read(fds[0], &c, 1), 0) << "the child returned from run_in_child";
  ::close(fds[0]);
  EXPECT_EQ(o, ChildOutcome::kFailed);
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace kniommu::proofs
