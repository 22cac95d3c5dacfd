// One command per API call of iommu_api.h / dma.h / handle.h, plus process creation and exit and
// the null-pointer cases (which the model does not take: they must fail with rcInvalidArgument
// and change nothing, which the refinement check after them confirms).
#include <optional>
#include <sstream>

#include "arg_bias.h"
#include "commands.h"
#include "coverage.h"
#include "coverage_counters.h"
#include "kniommu/adapter.h"  // includes kniommu/dma.h without the pedantic warning

namespace kniommu::conformance {
namespace {

using model::Kind;
namespace b = bias;

// Frames are the only resource a test can exhaust legitimately: rcOutOfMemory is accepted as the
// model's input only when the request (plus what is in use) approaches physical memory.
bool memory_nearly_full(const Sut& sut, uint64_t request_bytes) {
  if (sut.api().frames_in_use == nullptr) return true;
  const uint64_t used = sut.api().frames_in_use(sut.session()) * kPage;
  return (used + request_bytes) * 4 > sut.config().sim.phys_mem_bytes * 3;
}

class ProcessCreate final : public ApiCommand {
 public:
  explicit ProcessCreate(const model::State&) {}
  bool needs_alive_pid() const override { return false; }
  ImplOutcome call_impl(Sut& sut) const override {
    ImplOutcome o;
    o.rc = sut.api().process_create(sut.session(), &o.new_pid);
    return o;
  }
  model::Result step(model::State& s, uint64_t, bool) const override {
    return model::process_create(s);
  }
  void after_success(Sut& sut, const ImplOutcome& o, const model::Result& m) const override {
    sut.add_process(m.pid, o.new_pid);
  }
  void show(std::ostream& os) const override { os << "ProcessCreate()"; }
};

class ProcessExit final : public ApiCommand {
 public:
  explicit ProcessExit(model::Pid pid) { pid_ = pid; }
  static CmdPtr gen(const model::State& s) {
    return std::make_shared<const ProcessExit>(b::pid(s));
  }
  void checkPreconditions(const model::State& s) const override {
    ApiCommand::checkPreconditions(s);
    RC_PRE(b::alive_pids(s).size() >= 2u);  // keep one process alive: every command needs one
  }
  ImplOutcome call_impl(Sut& sut) const override {
    coverage::process_exit(sut.model, pid_);
    return {sut.api().process_exit(sut.session(), sut.impl_pid(pid_))};
  }
  model::Result step(model::State& s, uint64_t, bool) const override {
    return model::process_exit(s, pid_);
  }
  void show(std::ostream& os) const override { os << "ProcessExit(pid=" << pid_ << ")"; }
};

class AttachDevice final : public ApiCommand {
 public:
  AttachDevice(model::Pid pid, model::Bdf bdf) : bdf_(bdf) { pid_ = pid; }
  static CmdPtr gen(const model::State& s) {
    const model::Bdf bdf = b::bdf(s);
    return std::make_shared<const AttachDevice>(b::pid(s), bdf);
  }
  ImplOutcome call_impl(Sut& sut) const override {
    return {sut.api().iommu_attach_device(sut.session(), sut.impl_pid(pid_), bdf_)};
  }
  model::Result step(model::State& s, uint64_t, bool oom) const override {
    return model::attach_device(s, pid_, bdf_, oom);
  }
  void show(std::ostream& os) const override {
    os << "AttachDevice(pid=" << pid_ << ", bdf=" << hex(bdf_) << ")";
  }

 private:
  model::Bdf bdf_;
};

class DetachDevice final : public ApiCommand {
 public:
  DetachDevice(model::Pid pid, model::Bdf bdf) : bdf_(bdf) { pid_ = pid; }
  static CmdPtr gen(const model::State& s) {
    const model::Bdf bdf = b::bdf(s);
    return std::make_shared<const DetachDevice>(b::pid(s), bdf);
  }
  ImplOutcome call_impl(Sut& sut) const override {
    return {sut.api().iommu_detach_device(sut.session(), sut.impl_pid(pid_), bdf_)};
  }
  model::Result step(model::State& s, uint64_t, bool) const override {
    return model::detach_device(s, pid_, bdf_);
  }
  void show(std::ostream& os) const override {
    os << "DetachDevice(pid=" << pid_ << ", bdf=" << hex(bdf_) << ")";
  }

 private:
  model::Bdf bdf_;
};

class CreateDomain final : public ApiCommand {
 public:
  explicit CreateDomain(model::Pid pid) { pid_ = pid; }
  static CmdPtr gen(const model::State& s) {
    return std::make_shared<const CreateDomain>(b::pid(s));
  }
  ImplOutcome call_impl(Sut& sut) const override {
    ImplOutcome o;
    o.rc = sut.api().iommu_create_domain(sut.session(), sut.impl_pid(pid_), &o.handle);
    return o;
  }
  model::Result step(model::State& s, uint64_t, bool oom) const override {
    return model::create_domain(s, pid_, oom);
  }
  void show(std::ostream& os) const override { os << "CreateDomain(pid=" << pid_ << ")"; }
};

class AttachDeviceToDomain final : public ApiCommand {
 public:
  AttachDeviceToDomain(model::Pid pid, model::Bdf bdf, Handle dom) : bdf_(bdf), dom_(dom) {
    pid_ = pid;
  }
  static CmdPtr gen(const model::State& s) {
    const model::Bdf bdf = b::bdf(s);
    const model::Pid pid = b::pid(s);
    return std::make_shared<const AttachDeviceToDomain>(pid, bdf, b::handle(s, pid, Kind::Domain));
  }
  ImplOutcome call_impl(Sut& sut) const override {
    return {sut.api().iommu_attach_device_to_domain(sut.session(), sut.impl_pid(pid_), bdf_, dom_)};
  }
  model::Result step(model::State& s, uint64_t, bool oom) const override {
    return model::attach_device_to_domain(s, pid_, bdf_, dom_, oom);
  }
  void show(std::ostream& os) const override {
    os << "AttachDeviceToDomain(pid=" << pid_ << ", bdf=" << hex(bdf_) << ", domain=" << dom_
       << ")";
  }

 private:
  model::Bdf bdf_;
  Handle dom_;
};

class DetachDeviceFromDomain final : public ApiCommand {
 public:
  DetachDeviceFromDomain(model::Pid pid, model::Bdf bdf, Handle dom) : bdf_(bdf), dom_(dom) {
    pid_ = pid;
  }
  static CmdPtr gen(const model::State& s) {
    const model::Bdf bdf = b::bdf(s);
    const model::Pid pid = b::pid(s);
    return std::make_shared<const DetachDeviceFromDomain>(pid, bdf,
                                                          b::handle(s, pid, Kind::Domain));
  }
  ImplOutcome call_impl(Sut& sut) const override {
    return {
        sut.api().iommu_detach_device_from_domain(sut.session(), sut.impl_pid(pid_), bdf_, dom_)};
  }
  model::Result step(model::State& s, uint64_t, bool) const override {
    return model::detach_device_from_domain(s, pid_, bdf_, dom_);
  }
  void show(std::ostream& os) const override {
    os << "DetachDeviceFromDomain(pid=" << pid_ << ", bdf=" << hex(bdf_) << ", domain=" << dom_
       << ")";
  }

 private:
  model::Bdf bdf_;
  Handle dom_;
};

// Records the buffer's physical blocks (KnIoDmaGetPhysInfo) and checks what the contract says
// about them: one block of 2^order pages per descriptor, naturally aligned, below 4 GiB for
// DMA32, and disjoint from every other live buffer.
void record_buffer(Sut& sut, model::Pid pid, Handle h) {
  const model::HandleEntry* e = model::lookup_handle(sut.model, pid, h);
  KNIOMMU_CHECK(e != nullptr);
  const model::Buffer& buf = sut.model.buffers.at(e->object);
  InfoPtr info;
  const Retcode rc = sut.get_info(pid, h, true, &info);
  if (rc != rcOk) RC_FAIL(std::string("KnIoDmaGetPhysInfo on a new buffer: ") + KnRetcodeName(rc));
  KNIOMMU_CHECK_EQ(info->count, buf.blocks);
  KNIOMMU_CHECK_EQ(info->orderMin, buf.order);
  std::vector<PhysBlock> blocks;
  const uint64_t block_bytes = kPage << buf.order;
  for (size_t i = 0; i < info->count; ++i) {
    const uint64_t pa = static_cast<uint64_t>(info->descriptors[i].frame) << 12;
    KNIOMMU_CHECK_EQ(static_cast<uint64_t>(info->descriptors[i].order), buf.order);
    if (pa % block_bytes != 0) RC_FAIL("physical block not naturally aligned: " + hex(pa));
    if ((buf.flags & DMA_ZONE_DMA32) != 0 && pa + block_bytes > (uint64_t{1} << 32))
      RC_FAIL("DMA32 buffer above 4 GiB: " + hex(pa));
    if (!sut.claim_frames(pa, block_bytes, e->object))
      RC_FAIL("buffer frames overlap a live buffer's frames at " + hex(pa));
    blocks.push_back(PhysBlock{pa, buf.order});
  }
  sut.phys[e->object] = std::move(blocks);
}

class DmaCreate final : public ApiCommand {
 public:
  DmaCreate(model::Pid pid, uint32_t order, uint64_t size, uint32_t flags)
      : order_(order), size_(size), flags_(flags) {
    pid_ = pid;
  }
  static CmdPtr gen(const model::State& s) {
    const model::Pid pid = b::pid(s);
    const b::BufferShape shape = b::buffer_shape();
    uint64_t size = shape.pages * kPage;
    const int bad = b::pick(100);  // 0 = a valid size, the shrink target
    if (bad >= 97)
      size = 0;
    else if (bad >= 94)
      size = size - 1;
    else if (bad >= 93)
      size = DMA_SIZE_MAX + kPage;
    return std::make_shared<const DmaCreate>(pid, shape.order, size, b::dma_flags());
  }
  ImplOutcome call_impl(Sut& sut) const override {
    ImplOutcome o;
    o.rc =
        sut.api().dma_create(sut.session(), sut.impl_pid(pid_), order_, size_, flags_, &o.handle);
    o.oom_plausible = memory_nearly_full(sut, size_ + (kPage << std::min(order_, 18u)));
    return o;
  }
  model::Result step(model::State& s, uint64_t, bool oom) const override {
    return model::dma_create(s, pid_, order_, size_, flags_, oom);
  }
  void after_success(Sut& sut, const ImplOutcome& o, const model::Result&) const override {
    record_buffer(sut, pid_, o.handle);
    if (order_ == DMA_ORDER_MAX) sut.coverage().hit(path::kBlock1G);
  }
  void show(std::ostream& os) const override {
    os << "DmaCreate(pid=" << pid_ << ", order=" << order_ << ", size=" << hex(size_)
       << ", flags=" << hex(flags_) << ")";
  }

 private:
  uint32_t order_;
  uint64_t size_;
  uint32_t flags_;
};

class DmaCreateContinuous final : public ApiCommand {
 public:
  explicit DmaCreateContinuous(const model::State& s) {
    pid_ = b::pid(s);
    const int r = b::pick(100);
    size_ = r < 75   ? (1 + static_cast<uint64_t>(b::pick(9))) * kPage
            : r < 90 ? (511 + static_cast<uint64_t>(b::pick(3))) * kPage
            : r < 95 ? 3 * kPage + 7
                     : 0;
    flags_ = b::dma_flags();
  }
  ImplOutcome call_impl(Sut& sut) const override {
    ImplOutcome o;
    o.rc = sut.api().dma_create_continuous(sut.session(), sut.impl_pid(pid_), size_, flags_,
                                           &o.handle);
    o.oom_plausible = memory_nearly_full(sut, 2 * size_);
    return o;
  }
  model::Result step(model::State& s, uint64_t, bool oom) const override {
    return model::dma_create_continuous(s, pid_, size_, flags_, oom);
  }
  void after_success(Sut& sut, const ImplOutcome& o, const model::Result&) const override {
    record_buffer(sut, pid_, o.handle);
  }
  void show(std::ostream& os) const override {
    os << "DmaCreateContinuous(pid=" << pid_ << ", size=" << hex(size_) << ", flags=" << hex(flags_)
       << ")";
  }

 private:
  uint64_t size_;
  uint32_t flags_;
};

class DmaMap final : public ApiCommand {
 public:
  DmaMap(model::Pid pid, Handle rid, uint64_t offset, uint64_t length, int vmflags)
      : rid_(rid), offset_(offset), length_(length), vmflags_(vmflags) {
    pid_ = pid;
  }
  explicit DmaMap(const model::State& s) {
    pid_ = b::pid(s);
    rid_ = b::handle(s, pid_, Kind::Buffer);
    uint64_t footprint = 4;
    if (const model::HandleEntry* e = model::lookup_handle(s, pid_, rid_);
        e != nullptr && e->kind == Kind::Buffer && s.buffers.count(e->object))
      footprint = s.buffers.at(e->object).footprint_pages();
    const uint64_t first =
        static_cast<uint64_t>(b::pick(static_cast<int>(std::min<uint64_t>(footprint, 1024))));
    const uint64_t count = 1 + static_cast<uint64_t>(b::pick(
                                   static_cast<int>(std::min<uint64_t>(footprint - first, 1024))));
    offset_ = first * kPage;
    length_ = count * kPage;
    const int bad = b::pick(100);
    if (bad >= 97)
      offset_ += 8;
    else if (bad >= 94)
      length_ = 0;
    else if (bad >= 91)
      length_ = (footprint - first + 1) * kPage;
    static constexpr int kFlags[] = {VMM_FLAG_READ, VMM_FLAG_WRITE, VMM_FLAG_READ | VMM_FLAG_WRITE};
    vmflags_ = b::chance(4) ? 4 : kFlags[b::pick(3)];
  }
  ImplOutcome call_impl(Sut& sut) const override {
    ImplOutcome o;
    void* addr = nullptr;
    o.rc = sut.api().dma_map(sut.session(), sut.impl_pid(pid_), rid_, offset_, length_, nullptr,
                             vmflags_, &addr, &o.handle);
    o.va = reinterpret_cast<uint64_t>(addr);
    return o;
  }
  model::Result step(model::State& s, uint64_t, bool oom) const override {
    return model::dma_map(s, pid_, rid_, offset_, length_, vmflags_, oom);
  }
  std::vector<Handle> handle_args() const override { return {rid_}; }
  void after_success(Sut& sut, const ImplOutcome& o, const model::Result& m) const override {
    const model::HandleEntry* e = model::lookup_handle(sut.model, pid_, m.handle);
    KNIOMMU_CHECK(e != nullptr);
    sut.mapping_va[e->object] = o.va;
  }
  void show(std::ostream& os) const override {
    os << "DmaMap(pid=" << pid_ << ", rid=" << rid_ << ", offset=" << hex(offset_)
       << ", length=" << hex(length_) << ", vmflags=" << vmflags_ << ")";
  }

 private:
  Handle rid_;
  uint64_t offset_, length_;
  int vmflags_;
};

// DmaBegin and DmaBeginEx: the IOVA the implementation chose is read back with KnIoDmaGetInfo on
// the grant handle and handed to the model, which checks it is legal (valid_iova).
class DmaBeginBase : public ApiCommand {
 protected:
  bool takes_iova() const override { return true; }
  ImplOutcome finish(Sut& sut, Retcode rc, Handle grant) const {
    ImplOutcome o;
    o.rc = rc;
    o.handle = grant;
    if (rc != rcOk) return o;
    InfoPtr info;
    const Retcode irc = sut.get_info(pid_, grant, false, &info);
    if (irc != rcOk) RC_FAIL(std::string("KnIoDmaGetInfo on a new grant: ") + KnRetcodeName(irc));
    if (info->count == 0) RC_FAIL("KnIoDmaGetInfo on a new grant reports no blocks");
    o.iova = static_cast<uint64_t>(info->descriptors[0].frame) << 12;
    // The IOVA blocks of a grant are contiguous, one per buffer block (IOMMU disabled: IOVA =
    // physical address, so the blocks are wherever the frames are).
    const uint64_t block_pages = uint64_t{1} << info->orderMin;
    for (size_t i = 0; sut.model.config.iommu_enabled && i < info->count; ++i)
      if ((static_cast<uint64_t>(info->descriptors[i].frame) << 12) !=
          o.iova + i * block_pages * kPage)
        RC_FAIL("grant IOVA blocks are not contiguous");
    return o;
  }
  void after_success(Sut& sut, const ImplOutcome& o, const model::Result& m) const override {
    const model::HandleEntry* e = model::lookup_handle(sut.model, pid_, m.handle);
    KNIOMMU_CHECK(e != nullptr);
    const model::Grant& g = sut.model.grants.at(e->object);
    sut.grant_history[{pid_, o.handle}] = {g.iova, g.pages};
    // Configuration-dependent paths of the page table: a grant a superpage could map, and one
    // that crosses a leaf-table boundary.
    const uint32_t order = sut.model.buffers.at(g.buffer).order;
    const uint64_t bytes = g.pages * kPage;
    const auto aligned = [&](unsigned shift) {
      return order >= shift - 12 && g.iova % (uint64_t{1} << shift) == 0 &&
             bytes >= (uint64_t{1} << shift);
    };
    if (aligned(21)) sut.coverage().hit(path::kGrantAligned2M);
    if (aligned(30)) sut.coverage().hit(path::kGrantAligned1G);
    if (g.iova / kTwoMiB != (g.iova + bytes - 1) / kTwoMiB)
      sut.coverage().hit(path::kGrantStraddles2M);
  }
};

class DmaBegin final : public DmaBeginBase {
 public:
  DmaBegin(model::Pid pid, Handle rid) : rid_(rid) { pid_ = pid; }
  static CmdPtr gen(const model::State& s) {
    const model::Pid pid = b::pid(s);
    return std::make_shared<const DmaBegin>(pid, b::handle(s, pid, Kind::Buffer));
  }
  ImplOutcome call_impl(Sut& sut) const override {
    Handle grant = INVALID_HANDLE;
    const Retcode rc = sut.api().dma_begin(sut.session(), sut.impl_pid(pid_), rid_, &grant);
    return finish(sut, rc, grant);
  }
  model::Result step(model::State& s, uint64_t iova, bool oom) const override {
    return model::dma_begin(s, pid_, rid_, iova, oom);
  }
  std::vector<Handle> handle_args() const override { return {rid_}; }
  void show(std::ostream& os) const override {
    os << "DmaBegin(pid=" << pid_ << ", rid=" << rid_ << ")";
  }

 private:
  Handle rid_;
};

class DmaBeginEx final : public DmaBeginBase {
 public:
  DmaBeginEx(model::Pid pid, Handle rid, Handle dom) : rid_(rid), dom_(dom) { pid_ = pid; }
  static CmdPtr gen(const model::State& s) {
    const model::Pid pid = b::pid(s);
    const Handle rid = b::handle(s, pid, Kind::Buffer);
    return std::make_shared<const DmaBeginEx>(pid, rid, b::handle(s, pid, Kind::Domain));
  }
  ImplOutcome call_impl(Sut& sut) const override {
    Handle grant = INVALID_HANDLE;
    const Retcode rc =
        sut.api().dma_begin_ex(sut.session(), sut.impl_pid(pid_), rid_, dom_, &grant);
    return finish(sut, rc, grant);
  }
  model::Result step(model::State& s, uint64_t iova, bool oom) const override {
    return model::dma_begin_ex(s, pid_, rid_, dom_, iova, oom);
  }
  std::vector<Handle> handle_args() const override { return {rid_, dom_}; }
  void show(std::ostream& os) const override {
    os << "DmaBeginEx(pid=" << pid_ << ", rid=" << rid_ << ", domain=" << dom_ << ")";
  }

 private:
  Handle rid_, dom_;
};

class HandleClose final : public ApiCommand {
 public:
  HandleClose(model::Pid pid, Handle h, bool io_close) : io_close_(io_close), h_(h) { pid_ = pid; }
  static CmdPtr gen(const model::State& s) {
    const bool io_close = b::chance(50);
    const model::Pid pid = b::pid(s);
    static constexpr Kind kKinds[] = {Kind::Grant, Kind::Grant, Kind::Domain, Kind::Buffer,
                                      Kind::Mapping};
    return std::make_shared<const HandleClose>(pid, b::handle(s, pid, kKinds[b::pick(5)]),
                                               io_close);
  }
  ImplOutcome call_impl(Sut& sut) const override {
    const KnPid p = sut.impl_pid(pid_);
    return {io_close_ ? sut.api().io_close(sut.session(), p, h_)
                      : sut.api().handle_close(sut.session(), p, h_)};
  }
  model::Result step(model::State& s, uint64_t, bool) const override {
    return model::handle_close(s, pid_, h_);
  }
  std::vector<Handle> handle_args() const override { return {h_}; }
  void show(std::ostream& os) const override {
    // KnHandleClose and KnIoClose are the same call (the spec's HandleClose); `via` says which ran.
    os << "HandleClose(pid=" << pid_ << ", h=" << h_ << (io_close_ ? ", via=KnIoClose" : "") << ")";
  }

 private:
  bool io_close_;
  Handle h_;
};

// DmaGetInfo / DmaGetPhysInfo: Retcode and count as the model says; the blocks as recorded
// (physical) or as the grant's IOVA range (IOVA view).
class DmaGetInfo final : public ApiCommand {
 public:
  DmaGetInfo(model::Pid pid, Handle h, bool phys) : phys_(phys), h_(h) { pid_ = pid; }
  explicit DmaGetInfo(const model::State& s) : phys_(b::chance(40)) {
    pid_ = b::pid(s);
    h_ = b::handle(s, pid_, b::chance(50) ? Kind::Grant : Kind::Buffer);
  }
  ImplOutcome call_impl(Sut& sut) const override {
    InfoPtr info;
    ImplOutcome o;
    o.rc = sut.get_info(pid_, h_, phys_, &info);
    if (o.rc == rcOk) check_blocks(sut, *info);
    return o;
  }
  model::Result step(model::State& s, uint64_t, bool) const override {
    return phys_ ? model::dma_get_phys_info(s, pid_, h_) : model::dma_get_info(s, pid_, h_);
  }
  void show(std::ostream& os) const override {
    os << (phys_ ? "DmaGetPhysInfo(" : "DmaGetInfo(") << "pid=" << pid_ << ", h=" << h_ << ")";
  }

 private:
  void check_blocks(const Sut& sut, const DmaInfo& info) const {
    const model::Result m = phys_ ? model::dma_get_phys_info(sut.model, pid_, h_)
                                  : model::dma_get_info(sut.model, pid_, h_);
    if (m.rc != rcOk) return;  // the Retcode mismatch is reported by run()
    if (info.count != m.count)
      RC_FAIL("DmaInfo.count " + std::to_string(info.count) + ", model expects " +
              std::to_string(m.count));
    const model::HandleEntry* e = model::lookup_handle(sut.model, pid_, h_);
    KNIOMMU_CHECK(e != nullptr);
    const model::BufferId bid =
        e->kind == Kind::Grant ? sut.model.grants.at(e->object).buffer : e->object;
    const model::Buffer& buf = sut.model.buffers.at(bid);
    KNIOMMU_CHECK_EQ(info.flags, buf.flags);
    KNIOMMU_CHECK_EQ(info.orderMin, buf.order);
    KNIOMMU_CHECK_EQ(info.size, buf.size);
    for (size_t i = 0; i < info.count; ++i) {
      const uint64_t addr = static_cast<uint64_t>(info.descriptors[i].frame) << 12;
      KNIOMMU_CHECK_EQ(static_cast<uint64_t>(info.descriptors[i].order), buf.order);
      if (phys_) {
        KNIOMMU_CHECK_EQ(addr, sut.phys.at(bid).at(i).pa);
      } else {
        // The grant the IOVA view names: the handle's grant, or the buffer's grant in the
        // caller's automatic domain (IOMMU disabled: IOVA = physical address).
        uint64_t base = 0;
        if (!sut.model.config.iommu_enabled) {
          base = sut.phys.at(bid).at(0).pa;
        } else if (e->kind == Kind::Grant) {
          base = sut.model.grants.at(e->object).iova;
        } else {
          const auto& proc = sut.model.processes.at(pid_);
          for (const auto& [gid, g] : sut.model.grants)
            if (g.buffer == bid && g.domain && g.domain == proc.auto_domain) base = g.iova;
        }
        const uint64_t expect = sut.model.config.iommu_enabled ? base + i * (kPage << buf.order)
                                                               : sut.phys.at(bid).at(i).pa;
        if (addr != expect)
          RC_FAIL("IOVA block " + std::to_string(i) + " is " + hex(addr) + ", expected " +
                  hex(expect));
      }
    }
  }
  bool phys_;
  Handle h_;
};

// Null out-pointers and a non-null hint: rcInvalidArgument before any other check, no effect.
class NullArgs final : public Cmd {
 public:
  explicit NullArgs(const model::State& s)
      : pid_(b::pid(s)), which_(b::pick(7)), h_(b::handle(s, pid_, Kind::Buffer)) {}
  void checkPreconditions(const model::State& s) const override {
    RC_PRE(model::process_alive(s, pid_));
  }
  void apply(model::State&) const override {}
  void run(const model::State&, Sut& sut) const override {
    const KnAdapterV1& a = sut.api();
    KnAdapterSession* ss = sut.session();
    const KnPid p = sut.impl_pid(pid_);
    Handle out = INVALID_HANDLE;
    void* addr = nullptr;
    int hint = 0;
    Retcode rc = rcOk;
    switch (which_) {
      case 0:
        rc = a.iommu_create_domain(ss, p, nullptr);
        break;
      case 1:
        rc = a.dma_create(ss, p, 0, kPage, DMA_DIR_BIDIR, nullptr);
        break;
      case 2:
        rc = a.dma_begin(ss, p, h_, nullptr);
        break;
      case 3:
        rc = a.dma_begin_ex(ss, p, h_, h_, nullptr);
        break;
      case 4:
        rc = a.dma_get_info(ss, p, h_, nullptr);
        break;
      case 5:
        rc = a.dma_map(ss, p, h_, 0, kPage, &hint, VMM_FLAG_READ, &addr, &out);
        break;
      default:
        rc = a.dma_map(ss, p, h_, 0, kPage, nullptr, VMM_FLAG_READ, nullptr, &out);
        break;
    }
    std::ostringstream name;
    show(name);
    coverage::call(name.str(), rc);
    if (rc != rcInvalidArgument)
      RC_FAIL(name.str() + ": implementation returned " + KnRetcodeName(rc) +
              ", expected rcInvalidArgument");
    assert_refines(sut, name.str().c_str());
  }
  void show(std::ostream& os) const override {
    static constexpr const char* kNames[] = {"CreateDomain(out=null)", "DmaCreate(out=null)",
                                             "DmaBegin(out=null)",     "DmaBeginEx(out=null)",
                                             "DmaGetInfo(out=null)",   "DmaMap(hint!=null)",
                                             "DmaMap(addr=null)"};
    os << kNames[which_] << "(pid=" << pid_ << ", h=" << h_ << ")";
  }

 private:
  model::Pid pid_;
  int which_;
  Handle h_;
};

// The generation state is shared by every alternative of gen_command, not copied into each: only
// one alternative is drawn, and 18 copies of the model state per generated command were a fifth
// of the suite's time (docs/performance.md).
using SharedState = std::shared_ptr<const model::State>;

template <class T>
rc::Gen<CmdPtr> make(const SharedState& s) {
  if constexpr (requires { T::gen(*s); })
    return rc::gen::exec([s] { return T::gen(*s); });
  else
    return rc::gen::exec([s] { return CmdPtr(std::make_shared<const T>(*s)); });
}

// The generator of one command against the generation state `s`.
rc::Gen<CmdPtr> gen_command_for(const SharedState& s) {
  // Weights: device DMA and the grant lifecycle dominate, so invalidation-sensitive sequences
  // (begin -> DMA -> close/detach/exit -> DMA) are common. The grant scenario is that lifecycle
  // as one command built from the model (commands_scenario.cpp): random sequences are short
  // (RapidCheck draws the length uniformly up to the size), so without it a grant of a rare
  // shape is seldom begun, probed and closed while a device can see it.
  return rc::gen::weightedOneOf<CmdPtr>({
      {1, make<ProcessCreate>(s)},
      {1, make<ProcessExit>(s)},
      {4, make<AttachDevice>(s)},
      {2, make<DetachDevice>(s)},
      {2, make<CreateDomain>(s)},
      {3, make<AttachDeviceToDomain>(s)},
      {2, make<DetachDeviceFromDomain>(s)},
      {4, make<DmaCreate>(s)},
      {1, make<DmaCreateContinuous>(s)},
      {2, make<DmaMap>(s)},
      {4, make<DmaBegin>(s)},
      {3, make<DmaBeginEx>(s)},
      {4, make<HandleClose>(s)},
      {2, make<DmaGetInfo>(s)},
      {2, make<NullArgs>(s)},
      {8, rc::gen::exec([s] { return make_dma(*s); })},
      {2, rc::gen::exec([s] { return make_vm_access(*s); })},
      {6, rc::gen::exec([s] { return make_grant_scenario(*s); })},
  });
}

}  // namespace

namespace cmd {
CmdPtr process_create() { return std::make_shared<const ProcessCreate>(model::State{}); }
CmdPtr process_exit(model::Pid pid) { return std::make_shared<const ProcessExit>(pid); }
CmdPtr attach_device(model::Pid pid, model::Bdf bdf) {
  return std::make_shared<const AttachDevice>(pid, bdf);
}
CmdPtr detach_device(model::Pid pid, model::Bdf bdf) {
  return std::make_shared<const DetachDevice>(pid, bdf);
}
CmdPtr detach_device_from_domain(model::Pid pid, model::Bdf bdf, Handle domain) {
  return std::make_shared<const DetachDeviceFromDomain>(pid, bdf, domain);
}
CmdPtr create_domain(model::Pid pid) { return std::make_shared<const CreateDomain>(pid); }
CmdPtr attach_device_to_domain(model::Pid pid, model::Bdf bdf, Handle domain) {
  return std::make_shared<const AttachDeviceToDomain>(pid, bdf, domain);
}
CmdPtr dma_create(model::Pid pid, uint32_t order, uint64_t size, uint32_t flags) {
  return std::make_shared<const DmaCreate>(pid, order, size, flags);
}
CmdPtr dma_begin(model::Pid pid, Handle rid) { return std::make_shared<const DmaBegin>(pid, rid); }
CmdPtr dma_begin_ex(model::Pid pid, Handle rid, Handle domain) {
  return std::make_shared<const DmaBeginEx>(pid, rid, domain);
}
CmdPtr handle_close(model::Pid pid, Handle h, bool io_close) {
  return std::make_shared<const HandleClose>(pid, h, io_close);
}
CmdPtr dma_get_info(model::Pid pid, Handle h, bool phys) {
  return std::make_shared<const DmaGetInfo>(pid, h, phys);
}
CmdPtr dma_map(model::Pid pid, Handle rid, uint64_t offset, uint64_t length, int vmflags) {
  return std::make_shared<const DmaMap>(pid, rid, offset, length, vmflags);
}
}  // namespace cmd

rc::Gen<CmdPtr> gen_command(const model::State& state) {
  // rc::state::gen::commands asks for the generator of one state more than once: before every
  // entry it builds one it never uses, then one per attempt (a failed precondition retries with
  // the same state). A generator depends only on the state's value, so an equal state gets the
  // last generator again instead of another copy of the state (the comparison allocates nothing).
  thread_local SharedState last_state;
  thread_local std::optional<rc::Gen<CmdPtr>> last_gen;
  if (last_gen && *last_state == state) return *last_gen;
  last_state = std::make_shared<const model::State>(state);
  last_gen = gen_command_for(last_state);
  return *last_gen;
}

}  // namespace kniommu::conformance
