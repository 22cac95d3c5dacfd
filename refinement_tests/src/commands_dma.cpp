// Device DMA probes and CPU access through mappings. A probe's target is usually relative to a
// grant (the last IOVA range a (pid, grant handle) named — live, or already closed, detached or
// exited), at its edges: one page before, straddling the start, the first byte, inside,
// straddling the end, the last byte, just past the end. Sometimes it is a random IOVA or one
// beyond the address width. The verdict comes from model::can_access page by page; bytes are
// checked against physical memory at the page the model says the device reaches.
#include <cstring>
#include <iterator>
#include <sstream>

#include "arg_bias.h"
#include "commands.h"
#include "coverage.h"
#include "coverage_counters.h"
#include "kniommu/adapter.h"  // includes kniommu/dma.h without the pedantic warning
#include "trace_writer.h"

namespace kniommu::conformance {
namespace {

namespace b = bias;

std::vector<uint8_t> pattern(uint32_t seed, size_t len) {
  std::vector<uint8_t> out(len);
  uint32_t x = seed * 2654435761u + 12345u;
  for (auto& byte : out) {
    x = x * 1103515245u + 12345u;
    byte = static_cast<uint8_t>(x >> 16);
  }
  return out;
}

// Physical address of byte `off` of buffer `bid`'s footprint.
uint64_t buffer_pa(const Sut& sut, model::BufferId bid, uint64_t off) {
  const std::vector<PhysBlock>& blocks = sut.phys.at(bid);
  const uint64_t block_bytes = kPage << blocks.at(0).order;
  return blocks.at(off / block_bytes).pa + off % block_bytes;
}

std::vector<uint8_t> phys_bytes(const Sut& sut, uint64_t pa, size_t len) {
  std::vector<uint8_t> out(len);
  if (sut.api().phys_read(sut.session(), pa, out.data(), len) != rcOk)
    RC_FAIL("phys_read failed at " + hex(pa));
  return out;
}

class Dma final : public Cmd {
 public:
  explicit Dma(const DmaProbe& p) : p_(p) {}
  static CmdPtr gen(const model::State& s) {
    DmaProbe p;
    const int br = b::pick(100);
    p.bdf = br < 92 ? b::bdf(s) : b::unknown_bdf(s);
    p.write = b::chance(50);
    const int lr = b::pick(100);
    p.len = lr < 70 ? 1 + static_cast<size_t>(b::pick(16)) : lr < 85 ? 64 : kPage + 8;
    p.seed = static_cast<uint32_t>(b::pick(1 << 16));
    // Grant-relative: a live grant handle of the generation model, or any small (pid, handle).
    std::vector<std::pair<model::Pid, Handle>> grants;
    for (const auto& [q, proc] : s.processes)
      for (const auto& [h, e] : proc.handles)
        if (e.kind == model::Kind::Grant) grants.emplace_back(q, h);
    const int tr = b::pick(100);
    if (tr < 65 && !grants.empty()) {
      std::tie(p.pid, p.handle) =
          grants[static_cast<size_t>(b::pick(static_cast<int>(grants.size())))];
    } else if (tr < 85) {
      p.pid = 1 + static_cast<model::Pid>(b::pick(static_cast<int>(s.next_pid)));
      p.handle = 1 + static_cast<Handle>(b::pick(6));
    } else {
      p.pid = 0;  // absolute IOVA
    }
    p.edge = static_cast<Edge>(b::pick(kEdgeCount));
    p.inside_page = static_cast<uint64_t>(b::pick(1024));
    p.drain = !b::chance(60);
    const unsigned width = s.config.address_width;
    p.absolute =
        b::chance(15)
            ? uint64_t{1} << width
            : static_cast<uint64_t>(*rc::gen::resize(
                  rc::kNominalSize, rc::gen::inRange<uint64_t>(0, uint64_t{1} << (width - 12))))
                  << 12;
    return std::make_shared<const Dma>(p);
  }

  void checkPreconditions(const model::State&) const override {}
  void apply(model::State&) const override {}

  void run(const model::State&, Sut& sut) const override {
    std::ostringstream name;
    show(name);
    const bool disabled = !sut.model.config.iommu_enabled;
    uint64_t iova = p_.absolute;
    auto hist = sut.grant_history.find({p_.pid, p_.handle});
    if (p_.pid != 0 && hist != sut.grant_history.end()) {
      iova = target(hist->second.first, hist->second.second, disabled);
    } else if (disabled) {
      return;  // untranslated DMA at random addresses may leave simulated memory: not probed
    }
    name << " at " << hex(iova);
    probe(sut, iova, name.str());
    assert_refines(sut, name.str().c_str());
  }

  void show(std::ostream& os) const override {
    static constexpr const char* kEdges[] = {"before",       "straddle-start", "first", "inside",
                                             "straddle-end", "last",           "after", "last-page",
                                             "before-2m",    "after-2m"};
    static_assert(std::size(kEdges) == kEdgeCount);
    os << "Dma(bdf=" << hex(p_.bdf) << (p_.write ? ", write" : ", read") << ", len=" << p_.len;
    if (p_.pid == 0)
      os << ", iova=" << hex(p_.absolute);
    else
      os << ", grant(pid=" << p_.pid << ", h=" << p_.handle << ")."
         << kEdges[static_cast<int>(p_.edge)];
    if (!p_.drain) os << ", keep-faults";
    os << ")";
  }

 private:
  uint64_t target(uint64_t base, uint64_t pages, bool disabled) const {
    const uint64_t end = base + pages * kPage;
    Edge e = p_.edge;
    // Untranslated DMA may only touch the buffer itself (outside it lies unmodelled memory), and
    // its blocks need not be contiguous: only offsets inside the first block are safe.
    if (disabled && e != Edge::First && e != Edge::Inside) e = Edge::Inside;
    // The first 2 MiB boundary strictly inside the range (none: the range's last page).
    const uint64_t boundary = (base / kTwoMiB + 1) * kTwoMiB;
    const bool has_boundary = boundary < end;
    switch (e) {
      case Edge::Before:
        return base - kPage;
      case Edge::StraddleStart:
        return base - std::min<uint64_t>(p_.len / 2 + 1, base);
      case Edge::First:
        return base;
      case Edge::Inside:
        return base + (p_.inside_page % pages) * kPage + (disabled ? 0 : 8);
      case Edge::StraddleEnd:
        return end - p_.len / 2 - 1;
      case Edge::Last:
        return end - 1;
      case Edge::After:
        return end;
      case Edge::LastPage:
        return end - kPage;
      case Edge::BeforeBoundary:
        return has_boundary ? boundary - kPage : end - kPage;
      case Edge::AfterBoundary:
        return has_boundary ? boundary : end - kPage;
    }
    return base;
  }

  void probe(Sut& sut, uint64_t iova, const std::string& name) const {
    const model::Dir dir = p_.write ? model::Dir::Write : model::Dir::Read;
    size_t len = p_.len;
    const bool edu = sut.qemu();  // QEMU: edu moves its own buffer (docs/qemu-backend.md)
    if (edu) len = std::min<size_t>(len, kPage - 1);  // edu moves at most 4095 bytes at once
    if (!sut.model.config.iommu_enabled) {
      // Stay inside the buffer that contains iova (model: untranslated, anything goes).
      len = std::min<size_t>(len, kPage - (iova % kPage));
    }
    const bool known = model::device_known(sut.model, p_.bdf);
    // Per-page verdicts; the request succeeds iff all pages do.
    struct Seg {
      uint64_t iova;
      size_t len;
      model::Access a;
      uint64_t pa;
      uint64_t ro_pa;  // a write denied on a page the device may read: where it must not land
    };
    std::vector<Seg> segs;
    bool all = true;
    uint8_t reason = 0;
    uint64_t fault_page = 0;
    for (uint64_t cur = iova; cur < iova + len;) {
      const uint64_t next = std::min<uint64_t>((cur / kPage + 1) * kPage, iova + len);
      const model::Access a = model::can_access(sut.model, p_.bdf, cur, dir);
      uint64_t pa = 0;
      if (a.allowed)
        pa = a.untranslated ? cur : buffer_pa(sut, a.buffer, a.page * kPage + cur % kPage);
      if (!a.allowed && all) {
        reason = a.fault_reason;
        fault_page = cur & ~(kPage - 1);
      }
      all = all && a.allowed;
      uint64_t ro_pa = 0;
      if (!a.allowed && p_.write) {
        const model::Access ra = model::can_access(sut.model, p_.bdf, cur, model::Dir::Read);
        if (ra.allowed && !ra.untranslated)
          ro_pa = buffer_pa(sut, ra.buffer, ra.page * kPage + cur % kPage);
      }
      segs.push_back(Seg{cur, static_cast<size_t>(next - cur), a, pa, ro_pa});
      cur = next;
    }
    std::vector<std::vector<uint8_t>> before;
    for (const Seg& sg : segs)
      before.push_back(sg.a.allowed ? phys_bytes(sut, sg.pa, sg.len)
                       : sg.ro_pa   ? phys_bytes(sut, sg.ro_pa, sg.len)
                                    : std::vector<uint8_t>{});
    std::vector<uint8_t> data = p_.write ? pattern(p_.seed, len) : std::vector<uint8_t>(len, 0xA5);
    // On QEMU a write moves the bytes the device's last read left in its buffer: those are the
    // bytes to expect in memory (so a wrong translation of the earlier read shows up here).
    bool bytes_known = true;
    if (edu && p_.write && known) {
      const std::vector<int>& buf = sut.device_buffer(p_.bdf);
      for (size_t i = 0; i < len; ++i) {
        if (buf[i] < 0) bytes_known = false;
        data[i] = static_cast<uint8_t>(buf[i] < 0 ? 0 : buf[i]);
      }
    }
    uint8_t fault = 0;
    const Retcode rc = sut.api().device_dma(sut.session(), p_.bdf, iova, data.data(), len,
                                            p_.write ? 1 : 0, &fault);
    trace::dma(sut, p_.bdf, iova, len, p_.write, rc, fault);
    coverage::dma(rc, p_.write, fault);
    if (!known) {
      if (rc != rcDeviceNotFound)
        RC_FAIL(name + ": unknown BDF must give rcDeviceNotFound, got " + KnRetcodeName(rc));
      return;
    }
    if (all && rc != rcOk)
      RC_FAIL(name + ": the model allows it, the hardware faulted (" + KnRetcodeName(rc) +
              ", reason " + hex(fault) + ")");
    // QEMU 7.2 checks permissions only when it walks: a write through an IOTLB entry an earlier
    // read cached for a read-only page is dropped without a fault record. Then only "nothing
    // moved" can be judged (below); the missing record is counted as skipped.
    const bool silent_block = edu && p_.write && !all && rc == rcOk && reason == 0x5;
    if (silent_block)
      count_skip("fault record of a write blocked through a cached read-only entry (QEMU)");
    if (!all && !silent_block && rc != rcFail)
      RC_FAIL(name + ": the model forbids it (reason " + hex(reason) +
              "), the hardware returned " + KnRetcodeName(rc));
    if (!silent_block) check_fault_records(sut, all, reason, fault_page, fault, name);
    if (edu && !p_.write) {
      // The bytes read stay in edu's buffer: they are judged when the device writes them out.
      std::vector<int>& buf = sut.device_buffer(p_.bdf);
      size_t at = 0;
      for (size_t i = 0; i < segs.size(); ++i) {
        for (size_t k = 0; k < segs[i].len; ++k, ++at)
          buf[at] = all ? before[i][k] : -1;  // a faulting read leaves the buffer unknown
      }
      count_skip(
          "bytes of a device read: not visible on QEMU (judged when the device writes them out)");
      return;
    }
    const bool skip_bytes = edu && p_.write && !bytes_known;
    if (skip_bytes)
      count_skip("bytes of a device write after a faulting read (unknown buffer on QEMU)");
    size_t off = 0;
    for (size_t i = 0; i < segs.size(); ++i) {
      const Seg& sg = segs[i];
      if (!sg.a.allowed && sg.ro_pa != 0 && phys_bytes(sut, sg.ro_pa, sg.len) != before[i])
        RC_FAIL(name + ": a write the model forbids changed read-only memory at " + hex(sg.ro_pa));
      if (sg.a.allowed && !skip_bytes) {
        const std::vector<uint8_t> now = phys_bytes(sut, sg.pa, sg.len);
        const bool moved = std::memcmp(now.data(), data.data() + off, sg.len) == 0;
        // A request that faults on a later page: the emulator moves nothing; QEMU (like PCIe,
        // whose requests never cross 4 KiB) may still move the permitted pages.
        const bool same = all ? moved : now == before[i] || (edu && moved);
        if (!same)
          RC_FAIL(name +
                  (all ? ": bytes moved do not match memory at "
                       : ": a faulting request changed memory at ") +
                  hex(sg.pa));
      }
      off += sg.len;
    }
  }

  // Faults as software sees them: the fault recording registers (fault_log.h), not the side
  // channel `reported` (KnSimDeviceDma's out-parameter, quoted for diagnosis only). Without the
  // adapter's register entries the side channel is the fallback and the check counts as skipped.
  void check_fault_records(Sut& sut, bool allowed, uint8_t reason, uint64_t page,
                           uint8_t reported, const std::string& name) const {
    if (!sut.faults.enabled()) {
      if (sut.model.config.iommu_enabled) sut.coverage().skip(skipped::kFaultRegisters);
      if (!allowed && reported != reason)
        RC_FAIL(name + ": fault reason " + hex(reported) + ", model expects " + hex(reason));
      return;
    }
    if (!allowed) {
      sut.coverage().hit(path::kFaultRecorded);
      if (sut.faults.expect(ExpectedFault{p_.bdf, page, reason, !p_.write}))
        sut.coverage().hit(path::kFaultOverflow);
    }
    std::vector<std::string> problems;
    sut.faults.check(sut.api(), sut.session(), problems);
    if (!problems.empty()) {
      std::string msg = name + ": the fault registers differ from the model's expectation";
      if (!allowed) msg += " (expected reason " + hex(reason) + " at " + hex(page) + ")";
      msg += "; KnSimDeviceDma reported reason " + hex(reported) + ":";
      for (const std::string& p : problems) msg += "\n  " + p;
      RC_FAIL(msg);
    }
    if (p_.drain) {
      if (sut.faults.any_pending()) sut.coverage().hit(path::kFaultDrained);
      sut.faults.drain(sut.api(), sut.session());
    }
  }

  DmaProbe p_;
};

// Write a pattern through a mapping (if writable) and read it back; either way the bytes must be
// the ones at the physical page the model says the mapping shows.
class VmAccess final : public Cmd {
 public:
  explicit VmAccess(const model::State& s) {
    std::vector<std::pair<model::Pid, Handle>> maps;
    for (const auto& [p, proc] : s.processes)
      if (proc.alive)
        for (const auto& [h, e] : proc.handles)
          if (e.kind == model::Kind::Mapping) maps.emplace_back(p, h);
    RC_PRE(!maps.empty());
    std::tie(pid_, h_) = maps[static_cast<size_t>(b::pick(static_cast<int>(maps.size())))];
    offset_ = static_cast<uint64_t>(
        *rc::gen::resize(rc::kNominalSize, rc::gen::inRange<uint64_t>(0, 64 * kPage)));
    len_ = 1 + static_cast<size_t>(b::pick(64));
    seed_ = static_cast<uint32_t>(b::pick(1 << 16));
  }
  void checkPreconditions(const model::State& s) const override {
    RC_PRE(model::process_alive(s, pid_));
  }
  void apply(model::State&) const override {}
  void run(const model::State&, Sut& sut) const override {
    std::ostringstream name;
    show(name);
    const model::HandleEntry* e = model::lookup_handle(sut.model, pid_, h_);
    if (e == nullptr || e->kind != model::Kind::Mapping || e->revoked ||
        !sut.mapping_va.count(e->object))
      return;
    const model::Mapping& m = sut.model.mappings.at(e->object);
    const uint64_t off = offset_ % m.length;
    const size_t len = std::min<size_t>(len_, m.length - off);
    const uint64_t va = sut.mapping_va.at(e->object) + off;
    const KnPid p = sut.impl_pid(pid_);
    std::vector<uint8_t> expect;
    if (m.vmflags & VMM_FLAG_WRITE) {
      expect = pattern(seed_, len);
      const Retcode rc = sut.api().vm_write(sut.session(), p, va, expect.data(), len);
      if (rc != rcOk) RC_FAIL(name.str() + ": vm_write " + KnRetcodeName(rc));
    }
    std::vector<uint8_t> mem;
    for (uint64_t cur = 0; cur < len;) {
      const uint64_t byte = m.offset + off + cur;
      const size_t seg = static_cast<size_t>(std::min<uint64_t>(kPage - byte % kPage, len - cur));
      const std::vector<uint8_t> part = phys_bytes(sut, buffer_pa(sut, m.buffer, byte), seg);
      mem.insert(mem.end(), part.begin(), part.end());
      cur += seg;
    }
    if (!expect.empty() && mem != expect)
      RC_FAIL(name.str() + ": bytes written through the mapping are not in the buffer's frames");
    if (m.vmflags & VMM_FLAG_READ) {
      std::vector<uint8_t> got(len);
      const Retcode rc = sut.api().vm_read(sut.session(), p, va, got.data(), len);
      if (rc != rcOk) RC_FAIL(name.str() + ": vm_read " + KnRetcodeName(rc));
      if (got != mem)
        RC_FAIL(name.str() + ": bytes read through the mapping differ from the buffer's frames");
    }
    assert_refines(sut, name.str().c_str());
  }
  void show(std::ostream& os) const override {
    os << "VmAccess(pid=" << pid_ << ", mapping=" << h_ << ", offset=" << hex(offset_)
       << ", len=" << len_ << ")";
  }

 private:
  model::Pid pid_ = 1;
  Handle h_ = 0;
  uint64_t offset_ = 0;
  size_t len_ = 1;
  uint32_t seed_ = 0;
};

}  // namespace

CmdPtr make_dma(const model::State& s) { return Dma::gen(s); }
CmdPtr cmd::dma(const DmaProbe& probe) { return std::make_shared<const Dma>(probe); }
CmdPtr make_vm_access(const model::State& s) { return std::make_shared<const VmAccess>(s); }

}  // namespace kniommu::conformance
