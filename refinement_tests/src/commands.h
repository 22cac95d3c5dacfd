// RapidCheck stateful commands. The rc::state model is a *generation* model::State advanced with
// stand-in IOVAs; every check runs against Sut::model, the model state advanced with the
// implementation's real choices (see sut.h). After every command: same Retcode (and handle) on
// both sides, then the full refinement check (refinement_check.h).
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include "model/model.h"
#include "sut.h"

// RC_ASSERT builds its message strings (file name, expression text) on every call, passing or
// not; the commands check block by block (a 1 GiB buffer of 4 KiB blocks is 262,144 of them), so
// they use this, which builds its message only when `expression` is false.
#define KNIOMMU_CHECK(expression)                             \
  do {                                                        \
    if (!(expression)) RC_FAIL("check failed: " #expression); \
  } while (false)
// The same for `a == b` of integers or enums; a failure also names both values, as RC_ASSERT's
// expansion did (the message is built only on failure).
#define KNIOMMU_CHECK_EQ(a, b)                                                           \
  do {                                                                                   \
    const auto& kniommu_check_a = (a);                                                   \
    const auto& kniommu_check_b = (b);                                                   \
    if (!(kniommu_check_a == kniommu_check_b))                                           \
      RC_FAIL("check failed: " #a " == " #b " (" +                                       \
              ::kniommu::conformance::hex(static_cast<uint64_t>(kniommu_check_a)) + " != " + \
              ::kniommu::conformance::hex(static_cast<uint64_t>(kniommu_check_b)) + ")");    \
  } while (false)

namespace kniommu::conformance {

using Cmd = rc::state::Command<model::State, Sut>;
using CmdPtr = std::shared_ptr<const Cmd>;

// What the implementation did, as far as the model step needs it.
struct ImplOutcome {
  Retcode rc = rcOk;
  Handle handle = INVALID_HANDLE;
  uint64_t iova = 0;           // Begin/BeginEx: the IOVA read back with KnIoDmaGetInfo
  bool oom_plausible = false;  // rcOutOfMemory may be passed to the model as its input
  KnPid new_pid = 0;
  uint64_t va = 0;  // Map: the mapping's address
};

// A command that mirrors one call: the implementation runs first, then the model step with the
// implementation's choices as inputs, then the comparison and the refinement check.
class ApiCommand : public Cmd {
 public:
  void checkPreconditions(const model::State& s) const override;
  void apply(model::State& s) const override;
  void run(const model::State& s0, Sut& sut) const override;

 protected:
  model::Pid pid_ = 1;
  virtual bool needs_alive_pid() const { return true; }
  virtual ImplOutcome call_impl(Sut& sut) const = 0;
  virtual model::Result step(model::State& s, uint64_t iova, bool oom) const = 0;
  // Whether the step takes an IOVA (Begin/BeginEx): apply() then searches a legal stand-in.
  virtual bool takes_iova() const { return false; }
  // Handle arguments of the call (for the foreign-handle path counter).
  virtual std::vector<Handle> handle_args() const { return {}; }
  // Extra checks / harness bookkeeping after both sides succeeded.
  virtual void after_success(Sut& sut, const ImplOutcome& impl, const model::Result& m) const;
};

// Fails the current case (RC_FAIL) with every refinement discrepancy.
void assert_refines(const Sut& sut, const char* after);

// The command generator for rc::state::check.
rc::Gen<CmdPtr> gen_command(const model::State& s);

// Commands defined in commands_dma.cpp.
CmdPtr make_dma(const model::State& s);
CmdPtr make_vm_access(const model::State& s);

// Where a grant-relative DMA probe goes, relative to the last IOVA range [base, end) the grant
// handle named (the handle may be closed by then: stale translations show that way).
enum class Edge {
  Before,          // base - 1 page
  StraddleStart,   // across base
  First,           // base
  Inside,          // page inside_page % pages, offset 8
  StraddleEnd,     // across end
  Last,            // end - 1 (the last byte)
  After,           // end
  LastPage,        // the start of the last page
  BeforeBoundary,  // the page before the first 2 MiB boundary inside the range (else the last)
  AfterBoundary,   // the page after it: where a second leaf table / superpage starts
};
inline constexpr int kEdgeCount = 10;
inline constexpr uint64_t kTwoMiB = uint64_t{1} << 21;
inline constexpr uint64_t kOneGiB = uint64_t{1} << 30;

// One device DMA request: grant-relative (pid != 0) or at an absolute IOVA (pid == 0).
struct DmaProbe {
  model::Bdf bdf = 0;
  bool write = false;
  size_t len = 1;
  uint32_t seed = 0;  // of the pattern a write sends
  model::Pid pid = 0;
  Handle handle = 0;
  Edge edge = Edge::First;
  uint64_t inside_page = 0;
  uint64_t absolute = 0;
  // After the probe, read and clear the fault records as a fault handler does; false leaves them
  // pending, so later faults fill the records and overflow (PFO).
  bool drain = true;
};

// Commands with explicit arguments, for the scenario command and the directed tests.
namespace cmd {
CmdPtr process_create();
CmdPtr process_exit(model::Pid pid);
CmdPtr attach_device(model::Pid pid, model::Bdf bdf);
CmdPtr detach_device(model::Pid pid, model::Bdf bdf);
CmdPtr detach_device_from_domain(model::Pid pid, model::Bdf bdf, Handle domain);
CmdPtr create_domain(model::Pid pid);
CmdPtr attach_device_to_domain(model::Pid pid, model::Bdf bdf, Handle domain);
CmdPtr dma_create(model::Pid pid, uint32_t order, uint64_t size, uint32_t flags);
CmdPtr dma_begin(model::Pid pid, Handle rid);
CmdPtr dma_begin_ex(model::Pid pid, Handle rid, Handle domain);
CmdPtr handle_close(model::Pid pid, Handle h, bool io_close);
CmdPtr dma_get_info(model::Pid pid, Handle h, bool phys);  // phys: KnIoDmaGetPhysInfo
CmdPtr dma_map(model::Pid pid, Handle rid, uint64_t offset, uint64_t length, int vmflags);
CmdPtr dma(const DmaProbe& probe);
}  // namespace cmd

// The composite grant-lifecycle command (commands_scenario.cpp).
CmdPtr make_grant_scenario(const model::State& s);

std::string hex(uint64_t v);

}  // namespace kniommu::conformance
