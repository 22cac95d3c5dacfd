#include <charconv>
#include <sstream>

#include "commands.h"
#include "coverage.h"
#include "coverage_counters.h"
#include "refinement_check.h"
#include "trace_writer.h"

namespace kniommu::conformance {

std::string hex(uint64_t v) {
  // As `os << std::hex << "0x" << v` would print it, without a stream per call: the commands'
  // texts hold several (one per BDF, size, flags and IOVA, after every command).
  char buf[2 + 16] = {'0', 'x'};
  const auto [end, ec] = std::to_chars(buf + 2, buf + sizeof buf, v, 16);
  (void)ec;  // 16 hex digits always fit
  return std::string(buf, end);
}

void assert_refines(const Sut& sut, const char* after) {
  const std::vector<std::string> problems = check_refinement(sut);
  coverage::after_command(sut, after);
  if (problems.empty()) return;
  std::string msg = std::string("refinement broken after ") + after + ":";
  for (const std::string& p : problems) msg += "\n  " + p;
  RC_FAIL(msg);
}

void ApiCommand::checkPreconditions(const model::State& s) const {
  if (needs_alive_pid()) RC_PRE(model::process_alive(s, pid_));
}

void ApiCommand::apply(model::State& s) const {
  if (!takes_iova()) {
    step(s, 0, false);
    return;
  }
  // A legal stand-in IOVA: the first free 1 GiB slot (any legal value keeps handle numbering
  // and object ids identical to the real model's, which is all generation needs). A step given
  // an illegal IOVA changes nothing (model.h, Result::illegal_choice), so the slots are tried on
  // `s` itself, not on a copy of the state per slot.
  for (uint64_t slot = 1; slot < 512; ++slot)
    if (!step(s, slot << 30, false).illegal_choice) return;
}

void ApiCommand::after_success(Sut&, const ImplOutcome&, const model::Result&) const {}

namespace {

// A handle value the caller does not hold but another process does: the call must not reach the
// other process's object.
void count_foreign_handles(Sut& sut, model::Pid pid, const std::vector<Handle>& handles) {
  auto self = sut.model.processes.find(pid);
  if (self == sut.model.processes.end()) return;
  for (Handle h : handles) {
    if (self->second.handles.count(h)) continue;
    for (const auto& [q, proc] : sut.model.processes)
      if (q != pid && proc.handles.count(h)) {
        sut.coverage().hit(path::kForeignHandle);
        return;
      }
  }
}

}  // namespace

void ApiCommand::run(const model::State&, Sut& sut) const {
  count_foreign_handles(sut, pid_, handle_args());
  const ImplOutcome impl = call_impl(sut);
  const bool oom = impl.rc == rcOutOfMemory && impl.oom_plausible;
  const model::Result m = step(sut.model, impl.iova, oom);
  std::ostringstream shown;
  show(shown);
  const std::string name = shown.str();  // once: every use below takes the same text
  trace::api_call(sut, name, impl, m, oom);
  coverage::call(name, impl.rc);
  if (m.illegal_choice)
    RC_FAIL(name + ": the implementation chose an illegal IOVA " + hex(impl.iova));
  if (impl.rc != m.rc)
    RC_FAIL(name + ": implementation returned " + KnRetcodeName(impl.rc) + ", model expects " +
            KnRetcodeName(m.rc));
  if (m.rc == rcOk) {
    if (m.handle != INVALID_HANDLE && impl.handle != m.handle)
      RC_FAIL(name + ": implementation returned handle " + std::to_string(impl.handle) +
              ", model expects " + std::to_string(m.handle));
    after_success(sut, impl, m);
  }
  assert_refines(sut, name.c_str());
}

}  // namespace kniommu::conformance
