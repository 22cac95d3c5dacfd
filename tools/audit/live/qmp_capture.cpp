#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "analysis/names.h"
#include "analysis/table_walk.h"
#include "live/json.h"
#include "live/live_capture.h"
#include "live/qemu_text.h"
#include "live/qmp_client.h"

namespace kniommu::live {
namespace {

constexpr std::uint64_t kDefaultDmarBase = 0xfed90000;
// Register offsets, VT-d spec §10.4: CAP 0x08, ECAP 0x10, GSTS 0x1C (32-bit), RTADDR 0x20.
constexpr std::uint64_t kCap = 0x08, kEcap = 0x10, kGsts = 0x1c, kRtaddr = 0x20;

// A private directory for pmemsave's files, removed with everything in it on every path.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/kniommu-qmp-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Table pages read with `pmemsave` as the walk asks for them, only from guest RAM: a table
// pointer into device memory is not followed (reading MMIO can have side effects).
class QmpPages final : public audit::PageSource {
 public:
  QmpPages(QmpClient& qmp, const std::vector<RamRange>& ram, const std::string& dir,
           std::map<std::uint64_t, snapshot::Page>& pages, CaptureReport& report)
      : qmp_(qmp), ram_(ram), file_(dir + "/page.bin"), pages_(pages), report_(report) {}

  const std::uint8_t* page(std::uint64_t pa) override {
    if (const auto it = pages_.find(pa); it != pages_.end()) return it->second.data();
    if (!page_in_ram(ram_, pa)) {
      report_.warnings.push_back("table page " + audit::hex(pa) +
                                 " is outside guest RAM: not read (audited as missing)");
      return nullptr;
    }
    Json ignored;
    std::string error;
    if (!qmp_.execute("pmemsave",
                      "{\"val\":" + std::to_string(pa) +
                          ",\"size\":4096,\"filename\":" + json_quote(file_) + "}",
                      ignored, error)) {
      report_.warnings.push_back("cannot read page " + audit::hex(pa) + ": " + error);
      return nullptr;
    }
    snapshot::Page content{};
    std::ifstream in(file_, std::ios::binary);
    in.read(reinterpret_cast<char*>(content.data()), static_cast<std::streamsize>(content.size()));
    if (in.gcount() != static_cast<std::streamsize>(content.size())) {
      report_.warnings.push_back("short pmemsave file for page " + audit::hex(pa));
      return nullptr;
    }
    return pages_.emplace(pa, content).first->second.data();
  }

 private:
  QmpClient& qmp_;
  const std::vector<RamRange>& ram_;
  std::string file_;
  std::map<std::uint64_t, snapshot::Page>& pages_;
  CaptureReport& report_;
};

bool read_register(QmpClient& qmp, std::uint64_t addr, bool qword, std::uint64_t& value,
                   std::string& error) {
  std::string out;
  if (!qmp.hmp(std::string("xp /1") + (qword ? "gx " : "wx ") + audit::hex(addr), out, error)) {
    return false;
  }
  const auto v = parse_xp_value(out);
  if (!v) {
    error = "cannot parse the register read at " + audit::hex(addr) + ": " + out;
    return false;
  }
  value = *v;
  return true;
}

// Resumes the VM when the capture ends, whichever way it ends, if it was running before.
class ResumeGuard {
 public:
  explicit ResumeGuard(QmpClient& qmp) : qmp_(qmp) {}
  ~ResumeGuard() {
    if (!armed_) return;
    Json ignored;
    std::string error;
    (void)qmp_.execute("cont", "", ignored, error);
  }
  ResumeGuard(const ResumeGuard&) = delete;
  ResumeGuard& operator=(const ResumeGuard&) = delete;
  void arm() { armed_ = true; }

 private:
  QmpClient& qmp_;
  bool armed_ = false;
};

}  // namespace

bool capture_qmp(const std::string& socket_path, const QmpOptions& options, snapshot::Snapshot& out,
                 CaptureReport& report) {
  QmpClient qmp;
  if (!qmp.connect(socket_path, report.error, options.timeout_ms)) return false;
  Json status;
  if (!qmp.execute("query-status", "", status, report.error)) return false;
  const Json* running = status.get("running");
  const bool was_running = running != nullptr && running->boolean;

  ResumeGuard resume(qmp);
  const auto paused_at = std::chrono::steady_clock::now();
  if (was_running) {
    Json ignored;
    if (!qmp.execute("stop", "", ignored, report.error)) return false;
    resume.arm();
  }
  const bool ok = [&] {
    std::string qtree, mtree;
    if (!qmp.hmp("info qtree", qtree, report.error)) return false;
    if (!qmp.hmp("info mtree -f", mtree, report.error)) return false;
    const QtreeFacts facts = parse_qtree(qtree);
    const auto ram = parse_ram_ranges(mtree);
    if (ram.empty()) {
      report.error = "no guest RAM found in `info mtree -f`";
      return false;
    }
    const std::uint64_t base =
        options.dmar_base.value_or(facts.dmar_base.value_or(kDefaultDmarBase));
    snapshot::Snapshot s;
    if (!read_register(qmp, base + kCap, true, s.regs.cap, report.error) ||
        !read_register(qmp, base + kEcap, true, s.regs.ecap, report.error) ||
        !read_register(qmp, base + kGsts, false, s.regs.gsts, report.error) ||
        !read_register(qmp, base + kRtaddr, true, s.regs.rtaddr, report.error)) {
      return false;
    }
    if (s.regs.cap == 0 || s.regs.cap == ~std::uint64_t{0}) {
      report.error = "no remapping unit at " + audit::hex(base) + " (CAP reads " +
                     audit::hex(s.regs.cap) + ")";
      return false;
    }
    if (report.error = refuse_reason(s.regs); !report.error.empty()) return false;
    const std::uint64_t root = s.regs.rtaddr & ~std::uint64_t{0xfff};
    // GSTS.TES (bit 31, VT-d spec §10.4.5): a unit that translates walks its root table.
    if ((root != 0 || (s.regs.gsts & (1u << 31)) != 0) && !page_in_ram(ram, root)) {
      report.error = "the root table (RTADDR " + audit::hex(s.regs.rtaddr) +
                     ") is outside guest RAM: refusing to read device memory as tables";
      return false;
    }
    TempDir dir;
    if (dir.path().empty()) {
      report.error = "cannot create a temporary directory for pmemsave";
      return false;
    }
    QmpPages source(qmp, ram, dir.path(), s.pages, report);
    (void)audit::walk_tables(s.regs, source, audit::default_haw(s.regs));
    s.devices = facts.devices;
    report.pages = s.pages.size();
    out = std::move(s);
    return true;
  }();
  report.paused_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - paused_at).count();
  return ok;
}

}  // namespace kniommu::live
