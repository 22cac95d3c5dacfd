#include "record.h"

#include <cstdlib>
#include <sstream>

#include "analysis/names.h"

namespace kniommu::linux_guest {
namespace {

// The value of "key=VALUE" in a probe line (VALUE up to the next space).
bool field(const std::string& line, const std::string& key, std::string& value) {
  const auto at = line.find(" " + key + "=");
  if (at == std::string::npos) return false;
  const auto start = at + key.size() + 2;
  value = line.substr(start, line.find(' ', start) - start);
  return !value.empty();
}

bool number(const std::string& line, const std::string& key, std::uint64_t& v) {
  std::string s;
  if (!field(line, key, s)) return false;
  char* end = nullptr;
  v = std::strtoull(s.c_str(), &end, 0);
  return *end == '\0';
}

}  // namespace

bool parse_record(const std::string& trace_text, Record& out, std::string& error) {
  std::istringstream in(trace_text);
  std::size_t n = 0;
  bool header = false;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (line.rfind("# entries-in-buffer/entries-written:", 0) == 0) {
      header = true;
      unsigned long long kept = 0, written = 0;
      if (std::sscanf(line.c_str(), "# entries-in-buffer/entries-written: %llu/%llu", &kept,
                      &written) == 2) {
        out.lost_events = kept != written;
      }
      continue;
    }
    const bool att = line.find(" att: ") != std::string::npos;
    const bool map = line.find(" imap: ") != std::string::npos;
    const bool unmap = line.find(" iunmap: ") != std::string::npos;
    if (!att && !map && !unmap) continue;
    const auto bad = [&] {
      error = "record line " + std::to_string(n) + " is malformed: " + line;
      return false;
    };
    std::uint64_t dom = 0;
    if (!number(line, "dom", dom)) return bad();
    if (att) {
      std::string dev;
      if (!field(line, "dev", dev) || dev.size() < 3) return bad();
      const auto bdf = audit::parse_bdf(dev.substr(1, dev.size() - 2));  // "0000:00:02.0"
      if (!bdf) return bad();
      out.domain_of[*bdf] = dom;
      out.domains[dom];  // a domain may stay empty
      ++out.attaches;
      continue;
    }
    std::uint64_t iova = 0, pgsize = 0, pgcount = 0;
    if (!number(line, "iova", iova) || !number(line, "pgsize", pgsize) ||
        !number(line, "pgcount", pgcount) || pgsize == 0 || pgsize % 4096 != 0) {
      return bad();
    }
    PageMap& pages = out.domains[dom];
    const std::uint64_t count = pgsize / 4096 * pgcount;
    if (map) {
      std::uint64_t pa = 0, prot = 0;
      if (!number(line, "paddr", pa) || !number(line, "prot", prot)) return bad();
      for (std::uint64_t i = 0; i < count; ++i) {
        pages[(iova & ~std::uint64_t{0xfff}) + i * 4096] = {(pa & ~std::uint64_t{0xfff}) + i * 4096,
                                                            static_cast<unsigned>(prot)};
      }
      ++out.maps;
    } else {
      for (std::uint64_t i = 0; i < count; ++i)
        pages.erase((iova & ~std::uint64_t{0xfff}) + i * 4096);
      ++out.unmaps;
    }
  }
  if (!header) {
    error = "no trace header (# entries-in-buffer/entries-written): the record is empty or garbled";
    return false;
  }
  return true;
}

}  // namespace kniommu::linux_guest
