// The grant-lifecycle scenario: one random command made of ordinary commands, each built from the
// generation model after the previous ones (so valid by construction, and each shrinks like its
// standalone self):
//
//   [ProcessCreate]                                                 a fresh owner, sometimes
//   [attach a device / create a domain and attach a device to it]   if no device can see it yet
//     [attach / detach of an unknown BDF with the new domain's handle]        (rcDeviceNotFound)
//   the buffer, one of:
//     in a fresh domain: fillers, then a buffer a 2 MiB or 1 GiB leaf could map
//     in a fresh domain: a filler, then a buffer whose unmap needs exactly AM = 0..9
//     KnIoDmaCreate of a buffer_shape(), or an existing buffer
//   KnIoDmaBegin / KnIoDmaBeginEx   [and once more: rcAlreadyExists]
//   Dma probes from a device of that domain (last page, 2 MiB boundary, first, inside)
//   the end of access, one of:
//     KnIoClose / KnHandleClose of the grant
//     ProcessExit of the owner                  (teardown of all its domains)
//     close of the created domain's handle      (teardown of that domain; then four calls with
//                                                the revoked grant handle: rcHandleRevoked)
//     detach of the probing device
//   [after a teardown or detach: another domain gets the device]    (a new domain reuses the DID)
//   the same probes again                                           (now they must fault)
//   [close the buffer; after a 1 GiB grant also its fillers]
//
// This is the sequence that shows invalidation and unmap bugs: the probes fill the IOTLB with
// the grant's pages (the last one and those around a 2 MiB boundary are where a too-small PSI
// mask or an unmap that stops early leaves something behind), the end of access must remove all
// of it, a reused DID must start clean, and the refinement check after every step compares
// tables and caches with the model. Random sequences rarely line these steps up for a grant of
// an interesting shape.
#include <algorithm>
#include <utility>

#include "arg_bias.h"
#include "commands.h"
#include "kniommu/adapter.h"  // includes kniommu/dma.h without the pedantic warning

namespace kniommu::conformance {
namespace {

namespace b = bias;
using model::Kind;

class Scenario final : public Cmd {
 public:
  explicit Scenario(std::vector<CmdPtr> steps) : steps_(std::move(steps)) {}
  void checkPreconditions(const model::State& s) const override {
    model::State st = s;
    for (const CmdPtr& c : steps_) {
      c->checkPreconditions(st);
      c->apply(st);
    }
  }
  void apply(model::State& s) const override {
    for (const CmdPtr& c : steps_) c->apply(s);
  }
  void run(const model::State& s0, Sut& sut) const override {
    model::State st = s0;
    for (const CmdPtr& c : steps_) {
      c->run(st, sut);
      c->apply(st);
    }
  }
  // One step per line: the counterexample reads like the equivalent plain sequence.
  void show(std::ostream& os) const override {
    for (size_t i = 0; i < steps_.size(); ++i) {
      if (i != 0) os << "\n";
      steps_[i]->show(os);
    }
  }

 private:
  std::vector<CmdPtr> steps_;
};

// Builds the step list against a private copy of the generation model.
class Builder {
 public:
  explicit Builder(const model::State& s) : st_(s) {}
  const model::State& state() const { return st_; }
  // Appends `c` and returns the handle of `kind` it created for `pid` (INVALID_HANDLE if none).
  Handle add(const CmdPtr& c, model::Pid pid = 0, Kind kind = Kind::Domain) {
    // The handle values `pid` holds before the step (ascending, as the map keeps them), not a
    // copy of the whole state.
    std::vector<Handle> before;
    if (pid != 0)
      for (const auto& [h, e] : st_.processes.at(pid).handles) before.push_back(h);
    c->apply(st_);
    steps_.push_back(c);
    if (pid == 0) return INVALID_HANDLE;
    for (const auto& [h, e] : st_.processes.at(pid).handles)
      if (e.kind == kind && !std::binary_search(before.begin(), before.end(), h)) return h;
    return INVALID_HANDLE;
  }
  CmdPtr finish() { return std::make_shared<const Scenario>(std::move(steps_)); }

  // A device attached to no domain (else any device: the attach then fails, as the model says).
  model::Bdf free_device() const {
    std::vector<model::Bdf> free;
    for (model::Bdf d : st_.config.devices)
      if (!model::attachment(st_, d)) free.push_back(d);
    const std::vector<model::Bdf>& from = free.empty() ? st_.config.devices : free;
    return from[static_cast<size_t>(b::pick(static_cast<int>(from.size())))];
  }

 private:
  model::State st_;
  std::vector<CmdPtr> steps_;
};

template <class T>
const T& pick_from(const std::vector<T>& v) {
  return v[static_cast<size_t>(b::pick(static_cast<int>(v.size())))];
}

}  // namespace

CmdPtr make_grant_scenario(const model::State& s) {
  Builder bl(s);
  model::Pid pid = b::pid(s);
  if (b::chance(25)) {
    bl.add(cmd::process_create());
    pid = s.next_pid;
  }
  // The domain: the automatic one (KnIoDmaBegin) or a created one (KnIoDmaBeginEx), with a
  // device attached so that the probes and the refinement check see its tables and caches.
  const bool created = b::chance(35);
  Handle dom = INVALID_HANDLE;
  bool fresh = false;  // a domain created here: no grant yet, so its IOVA allocation is known
  if (!created) {
    const model::Process& proc = bl.state().processes.at(pid);
    const bool had_domain = proc.auto_domain.has_value();
    if (!had_domain || bl.state().domains.at(*proc.auto_domain).devices.empty())
      bl.add(cmd::attach_device(pid, bl.free_device()));
    // The first successful attach creates the automatic domain: as fresh as a created one.
    fresh = !had_domain && bl.state().processes.at(pid).auto_domain.has_value();
  } else {
    std::vector<Handle> usable;
    for (const auto& [h, e] : bl.state().processes.at(pid).handles)
      if (e.kind == Kind::Domain && !e.revoked && !bl.state().domains.at(e.object).devices.empty())
        usable.push_back(h);
    if (usable.empty() || b::chance(30)) {
      dom = bl.add(cmd::create_domain(pid), pid, Kind::Domain);
      if (b::chance(20)) {
        // A BDF no device has, with a valid domain handle: rcDeviceNotFound only after the
        // handle checks passed, which random arguments rarely line up.
        const model::Bdf unknown = b::unknown_bdf(bl.state());
        bl.add(cmd::attach_device_to_domain(pid, unknown, dom));
        bl.add(cmd::detach_device_from_domain(pid, unknown, dom));
      }
      bl.add(cmd::attach_device_to_domain(pid, bl.free_device(), dom));
      fresh = dom != INVALID_HANDLE;
    } else {
      dom = pick_from(usable);
    }
  }
  // The buffer: usually a new one of an interesting shape, sometimes one the process has.
  std::vector<Handle> buffers;
  for (const auto& [h, e] : bl.state().processes.at(pid).handles)
    if (e.kind == Kind::Buffer) buffers.push_back(h);
  const auto begin = [&](Handle buffer) {
    return created ? cmd::dma_begin_ex(pid, buffer, dom) : cmd::dma_begin(pid, buffer);
  };
  Handle rid = INVALID_HANDLE;
  std::vector<std::pair<Handle, Handle>> fillers;  // (buffer, grant) to close after a 1 GiB grant
  bool giant = false;
  // In a fresh domain: 0..44 a superpage-sized grant, 45..89 a mask-sized one, else any shape.
  const int choice = fresh ? b::pick(100) : 100;
  if (choice < 45) {
    // A grant a superpage could map, on every configuration, also where SLLPS has no such size
    // (the page table must then not use one, and the unit would fault on one). IOVAs are lowest
    // fit and page 0 is never used, so in a fresh domain filler grants ending at the boundary
    // put the next grant on it:
    //  - 2 MiB: a filler of 2 MiB - 4 KiB in 4 KiB blocks (a grant covers its buffer's whole
    //    footprint) takes [4 KiB, 2 MiB);
    //  - 1 GiB (rarely): a filler of 511 blocks of 2 MiB and one of 511 pages take [4 KiB,
    //    1 GiB) whatever SLLPS says. With 2 MiB superpages the large one is 2 MiB aligned,
    //    [2 MiB, 1 GiB), and the small one fills [4 KiB, 2 MiB); without, the large one takes
    //    [4 KiB, 1 GiB - 2 MiB + 4 KiB) and the small one the rest. (With 1 GiB superpages the
    //    1 GiB grant would be 1 GiB aligned anyway.) Without superpages this maps 524,287 4 KiB
    //    pages, hence rare, and the fillers are closed again after the scenario.
    giant = b::chance(17);
    const auto filler = [&](uint32_t order, uint64_t bytes) {
      const Handle buf = bl.add(cmd::dma_create(pid, order, bytes, b::valid_dma_flags()), pid,
                                Kind::Buffer);
      const Handle g = bl.add(begin(buf), pid, Kind::Grant);
      fillers.emplace_back(buf, g);
    };
    if (giant) {
      filler(9, kOneGiB - kTwoMiB);
      filler(0, kTwoMiB - kPage);
      rid = bl.add(cmd::dma_create(pid, DMA_ORDER_MAX, kOneGiB, b::valid_dma_flags()), pid,
                   Kind::Buffer);
    } else {
      filler(0, kTwoMiB - kPage);
      rid = bl.add(cmd::dma_create(pid, 9, kTwoMiB * (1 + static_cast<uint64_t>(b::pick(2))),
                                   b::valid_dma_flags()),
                   pid, Kind::Buffer);
    }
  } else if (choice < 90) {
    // A grant whose page-selective invalidation needs exactly the mask AM = a (0..9): a filler of
    // 2^a - 1 pages takes [page 1, page 2^a), the grant of 2^a pages the aligned block after it.
    // Closing either (when the scenario's end of access is the close; the other ends, which tear
    // the domain down and reuse its DID, keep their share) invalidates with AM = a (VT-d spec §6.5.2.3: the smallest naturally aligned
    // block of 2^AM pages holding the range). Random placements start at IOVA page 1 and rarely
    // give the small masks: AM 0 and 1 come twice as often as the others.
    const uint32_t a = static_cast<uint32_t>(b::pick(12) % 10);
    const uint64_t pages = uint64_t{1} << a;
    if (a != 0) {
      const Handle buf = bl.add(cmd::dma_create(pid, 0, (pages - 1) * kPage, b::valid_dma_flags()),
                                pid, Kind::Buffer);
      bl.add(begin(buf));
    }
    rid = bl.add(cmd::dma_create(pid, 0, pages * kPage, b::valid_dma_flags()), pid, Kind::Buffer);
  } else if (!buffers.empty() && b::chance(25)) {
    rid = pick_from(buffers);
  } else {
    b::BufferShape shape = b::buffer_shape();
    if (shape.order > DMA_ORDER_MAX) shape.order = 0;  // only valid buffers here
    rid = bl.add(cmd::dma_create(pid, shape.order, shape.pages * kPage, b::valid_dma_flags()), pid,
                 Kind::Buffer);
  }
  const Handle grant = bl.add(begin(rid), pid, Kind::Grant);
  if (grant == INVALID_HANDLE) return bl.finish();  // the begin fails (as the model says): done
  if (b::chance(15)) bl.add(begin(rid));  // the buffer is granted there already: rcAlreadyExists

  // Probes from one device of the grant's domain, in the direction the buffer allows.
  const model::State& st = bl.state();
  const model::Grant& g = st.grants.at(st.processes.at(pid).handles.at(grant).object);
  const model::Buffer& buf = st.buffers.at(g.buffer);
  std::vector<model::Bdf> devices;
  if (g.domain)
    devices.assign(st.domains.at(*g.domain).devices.begin(),
                   st.domains.at(*g.domain).devices.end());
  // No device sees the grant (IOMMU disabled: attaching has no effect): no probes, but the end
  // of access still runs, so a closed domain leaves revoked grant handles there too.
  const bool seen = !devices.empty();
  const model::Bdf bdf = seen ? pick_from(devices) : model::Bdf{0};
  std::vector<DmaProbe> probes;
  static constexpr Edge kEdges[] = {Edge::LastPage, Edge::AfterBoundary, Edge::First,
                                    Edge::BeforeBoundary, Edge::Inside};
  const int n = seen ? 1 + b::pick(3) : 0;
  for (int i = 0; i < n; ++i) {
    DmaProbe p;
    p.bdf = bdf;
    p.write = (buf.flags & DMA_DIR_TO_DEVICE) == 0;  // a read needs TO_DEVICE, a write FROM_DEVICE
    p.len = 1 + static_cast<size_t>(b::pick(16));
    p.seed = static_cast<uint32_t>(b::pick(1 << 16));
    p.pid = pid;
    p.handle = grant;
    p.edge = kEdges[b::pick(static_cast<int>(std::size(kEdges)))];
    p.inside_page = static_cast<uint64_t>(b::pick(1024));
    p.drain = !b::chance(60);
    probes.push_back(p);
  }
  for (const DmaProbe& p : probes) bl.add(cmd::dma(p));

  // The end of access (shrinks towards closing the grant).
  enum End { CloseGrant, Exit, CloseDomain, DetachDevice };
  End end = static_cast<End>(b::pick(4));
  if (end == Exit && b::alive_pids(bl.state()).size() < 2) end = CloseGrant;
  if (end == CloseDomain && !created) end = CloseGrant;
  if (end == DetachDevice && !seen) end = CloseGrant;
  const bool io_close = b::chance(50);
  switch (end) {
    case CloseGrant:
      bl.add(cmd::handle_close(pid, grant, io_close));
      break;
    case Exit:
      bl.add(cmd::process_exit(pid));
      break;
    case CloseDomain:
      bl.add(cmd::handle_close(pid, dom, io_close));
      break;
    case DetachDevice:
      bl.add(created ? cmd::detach_device_from_domain(pid, bdf, dom)
                     : cmd::detach_device(pid, bdf));
      break;
  }
  if (end == CloseDomain) {
    // The grant handle is revoked now: every call taking it must answer rcHandleRevoked, the
    // revoked check coming before the handle's kind is looked at (semantics.md, Handles).
    const model::Bdf any = pick_from(bl.state().config.devices);
    const CmdPtr uses[] = {cmd::dma_begin(pid, grant),
                           cmd::dma_begin_ex(pid, grant, grant),
                           cmd::attach_device_to_domain(pid, any, grant),
                           cmd::detach_device_from_domain(pid, any, grant),
                           cmd::dma_get_info(pid, grant, false),
                           cmd::dma_get_info(pid, grant, true),
                           cmd::dma_map(pid, grant, 0, kPage, VMM_FLAG_READ)};
    const int first = b::pick(static_cast<int>(std::size(uses)));
    for (int i = 0; i < 4; ++i)
      bl.add(uses[(first + i * 3) % static_cast<int>(std::size(uses))]);
  }
  if (seen && end != CloseGrant && !model::attachment(bl.state(), bdf)) {
    // The device goes to a new domain of some live process: its DID is the lowest free one,
    // often the one just released, so stale cache entries of the old domain would show now.
    const std::vector<model::Pid> alive = b::alive_pids(bl.state());
    const model::Pid q = pick_from(alive);
    const Handle nd = bl.add(cmd::create_domain(q), q, Kind::Domain);
    bl.add(cmd::attach_device_to_domain(q, bdf, nd));
  }
  for (const DmaProbe& p : probes) bl.add(cmd::dma(p));
  if (end != Exit && (giant || b::chance(40)))
    bl.add(cmd::handle_close(pid, rid, b::chance(50)));  // frames back
  if (giant && end != Exit) {
    // The 1 GiB fillers would make every later command of the case walk ~262k leaves (no
    // superpages): close grant and buffer (a grant revoked by a closed domain stays, for the
    // revoked-handle calls).
    for (const auto& [fbuf, fgrant] : fillers) {
      const model::HandleEntry* e = model::lookup_handle(bl.state(), pid, fgrant);
      if (e != nullptr && !e->revoked) bl.add(cmd::handle_close(pid, fgrant, false));
      if (model::lookup_handle(bl.state(), pid, fbuf) != nullptr)
        bl.add(cmd::handle_close(pid, fbuf, true));
    }
  }
  return bl.finish();
}

}  // namespace kniommu::conformance
