#include <cstring>
#include <fstream>
#include <sstream>

#include "analysis/names.h"
#include "analysis/table_walk.h"
#include "live/live_capture.h"
#include "snapshot/bytes.h"

namespace kniommu::live {
namespace {

struct Segment {
  std::uint64_t pa = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

// The physical-memory segments of a dump: PT_LOAD program headers of an ELF64 little-endian
// core (p_paddr = guest physical address), else the whole file at physical address 0.
bool segments_of(std::ifstream& in, std::uint64_t file_size, std::vector<Segment>& out,
                 std::string& error) {
  std::vector<std::uint8_t> eh(64, 0);
  in.read(reinterpret_cast<char*>(eh.data()), 64);
  const bool elf = in.gcount() == 64 && std::memcmp(eh.data(),
                                                    "\x7f"
                                                    "ELF",
                                                    4) == 0;
  in.clear();
  if (!elf) {
    out.push_back({0, 0, file_size});
    return true;
  }
  if (eh[4] != 2 || eh[5] != 1) {
    error = "ELF dump is not 64-bit little-endian";
    return false;
  }
  const auto phoff = snapshot::bytes::get<std::uint64_t>(eh, 32);
  const auto phentsize = snapshot::bytes::get<std::uint16_t>(eh, 54);
  const auto phnum = snapshot::bytes::get<std::uint16_t>(eh, 56);
  if (phentsize < 56 || phoff > file_size || std::uint64_t{phnum} * phentsize > file_size - phoff) {
    error = "ELF dump has a malformed program header table";
    return false;
  }
  for (std::uint16_t i = 0; i < phnum; ++i) {
    std::vector<std::uint8_t> ph(56, 0);
    in.seekg(static_cast<std::streamoff>(phoff + std::uint64_t{i} * phentsize));
    in.read(reinterpret_cast<char*>(ph.data()), 56);
    if (in.gcount() != 56) {
      error = "ELF dump: truncated program header";
      return false;
    }
    if (snapshot::bytes::get<std::uint32_t>(ph, 0) != 1) continue;  // PT_LOAD only
    const Segment s{snapshot::bytes::get<std::uint64_t>(ph, 24),
                    snapshot::bytes::get<std::uint64_t>(ph, 8),
                    snapshot::bytes::get<std::uint64_t>(ph, 32)};
    if (s.offset > file_size || s.size > file_size - s.offset) {
      error = "ELF dump: segment " + std::to_string(i) + " runs past the end of the file";
      return false;
    }
    out.push_back(s);
  }
  if (out.empty()) {
    error = "ELF dump has no PT_LOAD segments (no guest memory)";
    return false;
  }
  return true;
}

class DumpPages final : public audit::PageSource {
 public:
  DumpPages(std::ifstream& in, const std::vector<Segment>& segments,
            std::map<std::uint64_t, snapshot::Page>& pages, CaptureReport& report)
      : in_(in), segments_(segments), pages_(pages), report_(report) {}

  bool contains(std::uint64_t pa) const { return locate(pa).has_value(); }

  const std::uint8_t* page(std::uint64_t pa) override {
    if (const auto it = pages_.find(pa); it != pages_.end()) return it->second.data();
    const auto at = locate(pa);
    if (!at) {
      report_.warnings.push_back("table page " + audit::hex(pa) +
                                 " is not in the dump (audited as missing)");
      return nullptr;
    }
    snapshot::Page content{};
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(*at));
    in_.read(reinterpret_cast<char*>(content.data()), static_cast<std::streamsize>(content.size()));
    if (in_.gcount() != static_cast<std::streamsize>(content.size())) return nullptr;
    return pages_.emplace(pa, content).first->second.data();
  }

 private:
  std::optional<std::uint64_t> locate(std::uint64_t pa) const {
    for (const auto& s : segments_) {
      if (pa >= s.pa && pa - s.pa <= s.size && s.size - (pa - s.pa) >= 4096) {
        return s.offset + (pa - s.pa);
      }
    }
    return std::nullopt;
  }

  std::ifstream& in_;
  const std::vector<Segment>& segments_;
  std::map<std::uint64_t, snapshot::Page>& pages_;
  CaptureReport& report_;
};

}  // namespace

std::string refuse_reason(const snapshot::Registers& regs) {
  const std::uint64_t ttm = (regs.rtaddr >> 10) & 0x3;  // VT-d spec §11.4.5: RTADDR.TTM
  if (ttm == 0) return "";
  return "RTADDR.TTM = " + std::to_string(ttm) + (ttm == 1 ? " (scalable mode)" : " (reserved)") +
         ": only legacy-mode root/context tables are handled; not captured";
}

bool parse_registers(const std::string& spec, snapshot::Registers& regs, std::string& error) {
  std::string text = spec;
  if (!spec.empty() && spec[0] == '@') {
    std::ifstream f(spec.substr(1));
    if (!f) {
      error = "cannot open register file " + spec.substr(1);
      return false;
    }
    std::ostringstream all;
    all << f.rdbuf();
    text = all.str();
  }
  for (char& c : text) {
    if (c == ',' || c == '\n' || c == '\t' || c == '\r') c = ' ';
  }
  std::istringstream in(text);
  bool seen[4] = {};
  for (std::string item; in >> item;) {
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq);
    std::uint64_t* slot = key == "cap"      ? &regs.cap
                          : key == "ecap"   ? &regs.ecap
                          : key == "gsts"   ? &regs.gsts
                          : key == "rtaddr" ? &regs.rtaddr
                                            : nullptr;
    char* end = nullptr;
    const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    const unsigned long long v = std::strtoull(value.c_str(), &end, 0);
    if (slot == nullptr || value.empty() || *end != '\0') {
      error = "bad register item '" + item + "' (expected cap=, ecap=, gsts=, rtaddr=)";
      return false;
    }
    *slot = v;
    seen[slot == &regs.cap ? 0 : slot == &regs.ecap ? 1 : slot == &regs.gsts ? 2 : 3] = true;
  }
  if (!(seen[0] && seen[1] && seen[2] && seen[3])) {
    error = "registers need all of cap=, ecap=, gsts=, rtaddr=";
    return false;
  }
  if (regs.gsts > 0xffffffffu) {
    error = "gsts is a 32-bit register";
    return false;
  }
  return true;
}

bool capture_dump(const std::string& dump_path, const snapshot::Registers& regs,
                  snapshot::Snapshot& out, CaptureReport& report) {
  if (report.error = refuse_reason(regs); !report.error.empty()) return false;
  std::ifstream in(dump_path, std::ios::binary);
  if (!in) {
    report.error = "cannot open dump " + dump_path;
    return false;
  }
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  std::vector<Segment> segments;
  if (!segments_of(in, size, segments, report.error)) return false;
  snapshot::Snapshot s;
  s.regs = regs;
  DumpPages source(in, segments, s.pages, report);
  const std::uint64_t root = regs.rtaddr & ~std::uint64_t{0xfff};
  if ((root != 0 || (regs.gsts & (1u << 31)) != 0) && !source.contains(root)) {
    report.error =
        "the root table (RTADDR " + audit::hex(regs.rtaddr) + ") is outside the memory in the dump";
    return false;
  }
  (void)audit::walk_tables(s.regs, source, audit::default_haw(s.regs));
  report.pages = s.pages.size();
  out = std::move(s);
  return true;
}

}  // namespace kniommu::live
