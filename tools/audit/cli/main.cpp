// kniommu-audit: reads a snapshot (docs/snapshot-format.md) and reports, per device, its domain
// and every physical range it can reach; per process, what its devices reach; and violations.
// It can also take the snapshot itself from a QEMU VM (--qmp) or a guest memory dump (--dump).
// Exit status: 0 no violations, 1 violations found, 2 unreadable snapshot or bad usage.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <span>
#include <string>

#include <fstream>
#include <optional>
#include <sstream>

#include "analysis/analysis.h"
#include "analysis/policy.h"
#include "common/input_file.h"
#include "live/live_capture.h"
#include "render/outputs.h"
#include "render/render.h"
#include "snapshot/reader.h"
#include "snapshot/writer.h"

namespace {

constexpr const char* kUsage =
    "usage: kniommu-audit [options] SNAPSHOT\n"
    "       kniommu-audit [options] --qmp SOCKET             (a running QEMU VM, paused while "
    "read)\n"
    "       kniommu-audit [options] --dump FILE --registers cap=..,ecap=..,gsts=..,rtaddr=..\n"
    "  --capture FILE           with --qmp/--dump: also write the snapshot taken to FILE\n"
    "  --dmar-base ADDR         with --qmp: the unit's MMIO base (default: from info qtree)\n"
    "  --policy FILE            zones and reachable ranges per device (docs/audit-policy.md)\n"
    "  --format text|json|dot   what to print (default text)\n"
    "  -o, --output FILE        write it to FILE instead of stdout\n"
    "  --svg FILE               also draw the picture as SVG (needs Graphviz dot on PATH)\n"
    "  --all DIR                write DIR/audit.{txt,json,dot,svg}\n"
    "  --haw BITS               host address width for reserved-bit checks (default CAP.MGAW+1)\n"
    "exit status: 0 no violations, 1 violations found, 2 error\n";

// A snapshot holds registers and table pages: 1 GiB is 262144 table pages, far beyond any system.
constexpr std::uint64_t kMaxSnapshotBytes = std::uint64_t{1} << 30;

struct Args {
  std::string snapshot;
  std::string format = "text";
  std::string output;
  std::string svg;
  std::string all;
  unsigned haw = 0;
  std::string qmp;        // --qmp SOCKET
  std::string dump;       // --dump FILE
  std::string registers;  // --registers SPEC (with --dump)
  std::string capture;    // --capture FILE
  std::string policy;     // --policy FILE
  std::optional<std::uint64_t> dmar_base;
};

bool parse(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&](std::string& into) {
      if (i + 1 >= argc) return false;
      into = argv[++i];
      return true;
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--format") {
      if (!value(args.format)) return false;
    } else if (a == "-o" || a == "--output") {
      if (!value(args.output)) return false;
    } else if (a == "--svg") {
      if (!value(args.svg)) return false;
    } else if (a == "--all") {
      if (!value(args.all)) return false;
    } else if (a == "--haw") {
      std::string v;
      if (!value(v)) return false;
      char* end = nullptr;
      const unsigned long bits = std::strtoul(v.c_str(), &end, 10);
      if (*end != '\0' || bits < 12 || bits > 64) return false;
      args.haw = static_cast<unsigned>(bits);
    } else if (a == "--qmp") {
      if (!value(args.qmp)) return false;
    } else if (a == "--dump") {
      if (!value(args.dump)) return false;
    } else if (a == "--registers") {
      if (!value(args.registers)) return false;
    } else if (a == "--capture") {
      if (!value(args.capture)) return false;
    } else if (a == "--policy") {
      if (!value(args.policy)) return false;
    } else if (a == "--dmar-base") {
      std::string v;
      if (!value(v)) return false;
      char* end = nullptr;
      args.dmar_base = std::strtoull(v.c_str(), &end, 0);
      if (v.empty() || *end != '\0') return false;
    } else if (!a.empty() && a[0] == '-') {
      return false;
    } else if (args.snapshot.empty()) {
      args.snapshot = a;
    } else {
      return false;
    }
  }
  const int sources = !args.snapshot.empty() + !args.qmp.empty() + !args.dump.empty();
  if (sources != 1 || args.dump.empty() != args.registers.empty()) return false;
  if (!args.capture.empty() && !args.snapshot.empty()) return false;
  return (args.format == "text" || args.format == "json" || args.format == "dot");
}

// --qmp / --dump: take the snapshot now (and keep it with --capture).
bool live_source(const Args& args, kniommu::snapshot::Snapshot& out) {
  using namespace kniommu;
  live::CaptureReport report;
  bool ok = false;
  if (!args.qmp.empty()) {
    live::QmpOptions options;
    options.dmar_base = args.dmar_base;
    ok = live::capture_qmp(args.qmp, options, out, report);
  } else {
    snapshot::Registers regs;
    if (!live::parse_registers(args.registers, regs, report.error)) {
      std::cerr << "kniommu-audit: --registers: " << report.error << "\n";
      return false;
    }
    ok = live::capture_dump(args.dump, regs, out, report);
  }
  for (const auto& w : report.warnings) std::cerr << "kniommu-audit: warning: " << w << "\n";
  if (!ok) {
    std::cerr << "kniommu-audit: cannot capture: " << report.error << "\n";
    return false;
  }
  std::cerr << "kniommu-audit: captured " << report.pages << " table pages"
            << (args.qmp.empty() ? ""
                                 : " (VM paused " + std::to_string(report.paused_seconds) + " s)")
            << "\n";
  if (!args.capture.empty() && !snapshot::write_snapshot_file(out, args.capture)) {
    std::cerr << "kniommu-audit: cannot write " << args.capture << "\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kniommu;
  Args args;
  if (!parse(argc, argv, args)) {
    std::cerr << kUsage;
    return 2;
  }
  for (const std::string* out : {&args.output, &args.svg, &args.capture}) {
    std::string why;
    if (!out->empty() && !is_writable_output(*out, why)) {  // a FIFO would block the writer
      std::cerr << "kniommu-audit: " << why << "\n";
      return 2;
    }
  }
  std::optional<audit::Policy> policy;
  if (!args.policy.empty()) {
    // Read like the snapshot: only a regular file, never blocking on a FIFO, bounded in size.
    std::string text, open_error, error;
    if (!read_input_file(args.policy, kMaxSnapshotBytes, text, open_error)) {
      std::cerr << "kniommu-audit: policy " << args.policy << ": cannot read the file: " << open_error
                << "\n";
      return 2;
    }
    policy = audit::parse_policy(text, error);
    if (!policy) {
      std::cerr << "kniommu-audit: policy " << args.policy << ": " << error << "\n";
      return 2;
    }
  }
  snapshot::ReadResult read;
  if (args.snapshot.empty()) {
    read.snapshot.emplace();
    if (!live_source(args, *read.snapshot)) return 2;
  } else {
    // Only a regular file is read (a FIFO, directory or device is refused without blocking), and
    // only up to kMaxSnapshotBytes (a huge or sparse file is refused by its size).
    std::string bytes, open_error;
    if (!read_input_file(args.snapshot, kMaxSnapshotBytes, bytes, open_error)) {
      std::cerr << "kniommu-audit: " << open_error << "\n";
      return 2;
    }
    read = snapshot::read_snapshot(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  }
  if (!read.snapshot) {
    std::cerr << "kniommu-audit: " << args.snapshot
              << ": invalid snapshot: " << read.error.to_string() << "\n";
    return 2;
  }
  const auto report =
      audit::analyze(*read.snapshot, audit::Options{args.haw, policy ? &*policy : nullptr});
  const std::string text = args.format == "json"  ? audit::render_json(report)
                           : args.format == "dot" ? audit::render_dot(report)
                                                  : audit::render_text(report);
  if (args.output.empty()) {
    std::cout << text;
  } else if (!audit::write_text_file(args.output, text)) {
    std::cerr << "kniommu-audit: cannot write " << args.output << "\n";
    return 2;
  }
  if (!args.svg.empty()) {
    std::string error;
    if (!audit::write_svg(audit::render_dot(report), args.svg, error)) {
      std::cerr << "kniommu-audit: " << error << "\n";
      return 2;
    }
  }
  if (!args.all.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(args.all, ec);
    const auto written = audit::write_all(report, args.all, "audit");
    if (!written.ok) {
      std::cerr << "kniommu-audit: cannot write into " << args.all << "\n";
      return 2;
    }
    if (!written.svg_note.empty()) std::cerr << "kniommu-audit: " << written.svg_note << "\n";
  }
  return report.violations.empty() ? 0 : 1;
}
