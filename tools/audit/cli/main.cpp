// kniommu-audit: reads a snapshot (docs/snapshot-format.md) and reports, per device, its domain
// and every physical range it can reach; per process, what its devices reach; and violations.
// Exit status: 0 no violations, 1 violations found, 2 unreadable snapshot or bad usage.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <span>
#include <string>

#include "analysis/analysis.h"
#include "common/input_file.h"
#include "render/outputs.h"
#include "render/render.h"
#include "snapshot/reader.h"

namespace {

constexpr const char* kUsage =
    "usage: kniommu-audit [options] SNAPSHOT\n"
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
    } else if (!a.empty() && a[0] == '-') {
      return false;
    } else if (args.snapshot.empty()) {
      args.snapshot = a;
    } else {
      return false;
    }
  }
  return !args.snapshot.empty() &&
         (args.format == "text" || args.format == "json" || args.format == "dot");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kniommu;
  Args args;
  if (!parse(argc, argv, args)) {
    std::cerr << kUsage;
    return 2;
  }
  for (const std::string* out : {&args.output, &args.svg}) {
    std::string why;
    if (!out->empty() && !is_writable_output(*out, why)) {  // a FIFO would block the writer
      std::cerr << "kniommu-audit: " << why << "\n";
      return 2;
    }
  }
  // Only a regular file is read (a FIFO, directory or device is refused without blocking), and
  // only up to kMaxSnapshotBytes (a huge or sparse file is refused by its size).
  std::string bytes, open_error;
  if (!read_input_file(args.snapshot, kMaxSnapshotBytes, bytes, open_error)) {
    std::cerr << "kniommu-audit: " << open_error << "\n";
    return 2;
  }
  const auto read = snapshot::read_snapshot(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  if (!read.snapshot) {
    std::cerr << "kniommu-audit: " << args.snapshot
              << ": invalid snapshot: " << read.error.to_string() << "\n";
    return 2;
  }
  const auto report = audit::analyze(*read.snapshot, audit::Options{args.haw});
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
