#include "trace_writer.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "kniommu/adapter.h"  // includes kniommu/dma.h without the pedantic warning

namespace kniommu::conformance::trace {
namespace {

constexpr uint64_t kPageBytes = 4096;

// One logged event: the spec action it must match and what the implementation observed.
struct Event {
  std::string op;  // the spec action (ProcessCreate, AttachDevice, ..., Dma)
  std::string text;
  uint64_t pid = 0, dev = 0, h = 0, h2 = 0, pages = 1, out = 0, fault = 0;
  std::string dir = "{\"R\", \"W\"}";
  std::string rc = "rcOk";
  bool has_iova_page = false, unmodelled = false, ok = true;
  uint64_t iova_page = 0;         // a grant's first IOVA page (the spec counts IOVAs in pages)
  std::set<uint64_t> iova_pages;  // Dma: the pages the request covers
};

struct Recorder {
  std::string dir;
  std::string config;
  model::Config mc;
  std::vector<Event> events;
  std::set<uint64_t> unknown_devs;
  uint64_t max_pid = 0, max_handle = 1, max_pages = 1, domains = 0, buffers = 0, grants = 0,
           maps = 0;
  std::set<uint64_t> begin_pages{0};
  bool failed = false;
};

thread_local Recorder* current = nullptr;
std::atomic<unsigned> next_id{0};

// "Name(k=v, k=v, flag)" -> value of k (0 if absent).
uint64_t arg(const std::string& shown, const std::string& key) {
  const std::string pat = key + "=";
  for (size_t at = shown.find(pat); at != std::string::npos; at = shown.find(pat, at + 1)) {
    if (at == 0 || (shown[at - 1] != '(' && shown[at - 1] != ' ')) continue;
    return std::strtoull(shown.c_str() + at + pat.size(), nullptr, 0);
  }
  return 0;
}

std::string dir_set(uint32_t flags) {
  switch (flags & DMA_DIR_BIDIR) {
    case DMA_DIR_TO_DEVICE:
      return "{\"R\"}";  // the device reads memory
    case DMA_DIR_FROM_DEVICE:
      return "{\"W\"}";  // the device writes memory
    default:
      return "{\"R\", \"W\"}";
  }
}

// TLC's integers are 32-bit: an IOVA space of more than 2^30 pages is cut to 2^30 spec pages.
// Page 2^30 - 1 then stands for every page from there to the end of the address width (the
// suite never grants that high: kos allocates lowest fit), and page IovaPages for every page
// beyond the width, as for a narrower space.
constexpr uint64_t kSpecPageCap = uint64_t{1} << 30;
uint64_t real_pages(const model::Config& mc) {
  return (uint64_t{1} << mc.address_width) / kPageBytes;
}
uint64_t iova_pages(const model::Config& mc) { return std::min(real_pages(mc), kSpecPageCap); }
uint64_t spec_page(const model::Config& mc, uint64_t page) {
  if (page >= real_pages(mc)) return iova_pages(mc);
  return std::min(page, iova_pages(mc) - 1);
}

std::string tla_bool(bool b) { return b ? "TRUE" : "FALSE"; }

// A handle value as the spec sees it: issued values stay, anything else is "never issued".
uint64_t spec_handle(uint64_t h, uint64_t max_handle) {
  return h >= 1 && h <= max_handle ? h : max_handle + 1;
}

std::string range_set(uint64_t n) { return n == 0 ? "{}" : "1.." + std::to_string(n); }

void write_module(const Recorder& r, std::ostream& os) {
  std::set<uint64_t> devices(r.mc.devices.begin(), r.mc.devices.end());
  const uint64_t dids =
      r.mc.max_domains <= 64 ? r.mc.max_domains : std::max<uint64_t>(1, r.domains);
  os << "---- MODULE KnIommuTraceData ----\n"
     << "\\* A trace of the kniommu conformance suite (configuration " << r.config << ", "
     << r.events.size() << " events), written by refinement_tests/src/trace_writer.cpp.\n"
     << "EXTENDS Naturals, Sequences\n";
  auto set_of = [](const std::set<uint64_t>& s) {
    std::string out = "{";
    for (uint64_t v : s) out += (out.size() > 1 ? ", " : "") + std::to_string(v);
    return out + "}";
  };
  os << "TPids == " << range_set(std::max<uint64_t>(1, r.max_pid)) << "\n"
     << "TDevices == " << set_of(devices) << "\n"
     << "TUnknownDevices == " << set_of(r.unknown_devs) << "\n"
     << "TDids == " << range_set(dids) << "\n"
     << "TBufIds == " << range_set(std::max<uint64_t>(1, r.buffers)) << "\n"
     << "TGrantIds == " << range_set(std::max<uint64_t>(1, r.grants)) << "\n"
     << "TMapIds == " << range_set(std::max<uint64_t>(1, r.maps)) << "\n"
     << "TMaxHandle == " << r.max_handle << "\n"
     << "TMaxPages == " << r.max_pages << "\n"
     << "TIovaPages == " << iova_pages(r.mc) << "\n"
     << "TIommuEnabled == " << tla_bool(r.mc.iommu_enabled) << "\n"
     << "TIovaPageChoices == " << set_of(r.begin_pages) << "\n";
  // One line per event, with its text as a comment: the checker names the first event that
  // has no matching spec step by its number.
  os << "TraceLog == <<\n";
  for (size_t i = 0; i < r.events.size(); ++i) {
    const Event& e = r.events[i];
    os << "  [op |-> \"" << e.op << "\", pid |-> " << e.pid << ", dev |-> " << e.dev << ", h |-> "
       << spec_handle(e.h, r.max_handle) << ", h2 |-> " << spec_handle(e.h2, r.max_handle)
       << ", pages |-> " << e.pages << ", dir |-> " << e.dir << ", out |-> " << e.out
       << ", hasIovaPage |-> " << tla_bool(e.has_iova_page) << ", iovaPage |-> " << e.iova_page
       << ", iovaPages |-> " << set_of(e.iova_pages) << ", rc |-> \"" << e.rc
       << "\", unmodelled |-> " << tla_bool(e.unmodelled) << ", ok |-> " << tla_bool(e.ok)
       << ", fault |-> " << e.fault << "]" << (i + 1 < r.events.size() ? "," : "") << "  \\* event "
       << i + 1 << ": " << e.text << "\n";
  }
  os << ">>\n====\n";
}

}  // namespace

TraceCase::TraceCase(const std::string& dir, const Sut& sut) {
  if (dir.empty()) return;
  auto* r = new Recorder;
  r->dir = dir;
  r->config = sut.config().name;
  r->mc = sut.model.config;
  // The processes the harness created before the first command: the spec starts with none.
  for (const auto& [pid, proc] : sut.model.processes) {
    Event e;
    e.op = "ProcessCreate";
    e.pid = pid;
    e.text = "ProcessCreate() [harness set-up] -> pid " + std::to_string(pid);
    r->events.push_back(e);
    r->max_pid = std::max<uint64_t>(r->max_pid, pid);
  }
  current = r;
}

TraceCase::~TraceCase() {
  Recorder* r = current;
  if (r == nullptr) return;
  current = nullptr;
  const bool failed = r->failed || std::uncaught_exceptions() > 0;
  std::error_code ec;
  std::filesystem::create_directories(r->dir, ec);
  std::string name;
  do {  // unique in DIR, also across runs writing to the same directory
    name = r->dir + "/" + r->config + "-" + std::to_string(next_id++) + (failed ? "-failed" : "") +
           ".trace.tla";
  } while (std::filesystem::exists(name, ec));
  std::ofstream out(name);
  if (out) write_module(*r, out);
  delete r;
}

void TraceCase::mark_failed() const {
  if (current != nullptr) current->failed = true;
}

void api_call(const Sut& sut, const std::string& shown, const ImplOutcome& impl,
              const model::Result& m, bool oom_input) {
  Recorder* r = current;
  if (r == nullptr) return;
  Event e;
  e.op = shown.substr(0, shown.find('('));
  e.text = shown + " -> " + KnRetcodeName(impl.rc);
  e.rc = KnRetcodeName(impl.rc);
  e.pid = e.op == "ProcessCreate" ? m.pid : arg(shown, "pid");
  e.dev = arg(shown, "bdf");
  const bool on_bus =
      std::find(r->mc.devices.begin(), r->mc.devices.end(), e.dev) != r->mc.devices.end();
  if (shown.find("bdf=") != std::string::npos && !on_bus) r->unknown_devs.insert(e.dev);
  e.h = shown.find("rid=") != std::string::npos ? arg(shown, "rid") : arg(shown, "h");
  if (e.op == "AttachDeviceToDomain" || e.op == "DetachDeviceFromDomain")
    e.h = arg(shown, "domain");
  e.h2 = arg(shown, "domain");
  const bool ok = impl.rc == rcOk;
  // Outside the spec (spec/README.md "What is not modelled"): running out of memory (the model
  // takes the implementation's rcOutOfMemory as an input then) and size/order/flag/offset
  // validation (DmaCreate* and DmaMap on a valid buffer handle answering rcInvalidArgument).
  e.unmodelled = oom_input;
  if (impl.rc == rcInvalidArgument && (e.op == "DmaCreate" || e.op == "DmaCreateContinuous"))
    e.unmodelled = true;
  if (impl.rc == rcInvalidArgument && e.op == "DmaMap") {
    const model::HandleEntry* he = model::lookup_handle(sut.model, e.pid, e.h);
    if (he != nullptr && !he->revoked && he->kind == model::Kind::Buffer) e.unmodelled = true;
  }
  if (e.op == "ProcessCreate") {
    if (!ok) e.unmodelled = true;
    r->max_pid = std::max<uint64_t>(r->max_pid, m.pid);
    e.text += " pid " + std::to_string(m.pid);
  }
  if (ok && impl.handle != INVALID_HANDLE && m.handle != INVALID_HANDLE) {
    e.out = impl.handle;
    r->max_handle = std::max<uint64_t>(r->max_handle, impl.handle);
    e.text += " handle " + std::to_string(impl.handle);
  }
  if (e.op == "DmaCreate" || e.op == "DmaCreateContinuous") {
    e.dir = dir_set(static_cast<uint32_t>(arg(shown, "flags")));
    if (ok) {
      const model::HandleEntry* he = model::lookup_handle(sut.model, e.pid, impl.handle);
      if (he != nullptr) e.pages = sut.model.buffers.at(he->object).footprint_pages();
      r->max_pages = std::max(r->max_pages, e.pages);
      ++r->buffers;
    }
  }
  if (ok && (e.op == "CreateDomain" || e.op == "AttachDevice")) ++r->domains;
  if (ok && e.op == "DmaMap") ++r->maps;
  if (ok && (e.op == "DmaBegin" || e.op == "DmaBeginEx")) {
    ++r->grants;
    if (r->mc.iommu_enabled) {
      e.has_iova_page = true;
      e.iova_page = spec_page(r->mc, impl.iova / kPageBytes);
      r->begin_pages.insert(e.iova_page);
      e.text += " iova " + hex(impl.iova);
    }
  }
  r->events.push_back(e);
}

void dma(const Sut& sut, model::Bdf bdf, uint64_t iova, uint64_t len, bool write, Retcode rc,
         uint8_t fault) {
  Recorder* r = current;
  if (r == nullptr || len == 0) return;
  // A BDF with nothing behind it answers rcDeviceNotFound before any translation: the spec's
  // Dma is over the devices on the bus only.
  if (!model::device_known(sut.model, bdf)) return;
  std::set<uint64_t> pages;
  for (uint64_t p = iova / kPageBytes; p <= (iova + len - 1) / kPageBytes; ++p) {
    pages.insert(spec_page(r->mc, p));
    if (p >= real_pages(r->mc)) break;
  }
  Event e;
  e.op = "Dma";
  e.dev = bdf;
  e.dir = write ? "\"W\"" : "\"R\"";
  e.ok = rc == rcOk;
  e.fault = e.ok ? 0 : fault;
  std::ostringstream text;
  text << "Dma(bdf=" << hex(bdf) << (write ? ", write" : ", read") << ", iova=" << hex(iova)
       << ", len=" << len << ") -> " << (e.ok ? "ok" : "fault " + hex(fault));
  e.text = text.str();
  if (e.ok) {
    // Every page moved: one spec step per page.
    for (uint64_t p : pages) {
      Event one = e;
      one.iova_pages = {p};
      r->events.push_back(one);
    }
  } else {
    e.iova_pages = pages;  // some page of the request faulted with this reason
    r->events.push_back(e);
  }
}

}  // namespace kniommu::conformance::trace
