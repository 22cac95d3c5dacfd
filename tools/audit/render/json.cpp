#include <sstream>

#include "analysis/names.h"
#include "render/render.h"

namespace kniommu::audit {

// Minimal JSON writer: the report has only numbers, booleans, short strings and arrays.
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

namespace {

std::string quote(const std::string& s) { return json_string(s); }

template <typename T, typename F>
std::string array(const std::vector<T>& items, F item) {
  std::string s = "[";
  for (std::size_t i = 0; i < items.size(); ++i) s += (i ? "," : "") + item(items[i]);
  return s + "]";
}

std::string number(std::uint64_t v) { return std::to_string(v); }

// Addresses as hex strings: JSON numbers lose precision above 2^53 in many readers.
std::string ranges(const std::vector<Range>& list) {
  return array(list, [](const Range& r) {
    return "{\"pa\":" + quote(hex(r.pa)) + ",\"pages\":" + number(r.pages) +
           ",\"perms\":" + quote(perms_name(r.perms)) + "}";
  });
}

std::string violation(const Violation& v) {
  std::string s = "{\"kind\":" + quote(kind_name(v.kind)) + ",\"message\":" + quote(v.message);
  if (v.bdf) s += ",\"bdf\":" + quote(bdf_name(*v.bdf));
  if (v.pa) s += ",\"pa\":" + quote(hex(*v.pa));
  s += ",\"dids\":" + array(v.dids, [](std::uint16_t x) { return number(x); });
  s += ",\"pids\":" + array(v.pids, [](std::uint32_t x) { return number(x); });
  return s + ",\"ranges\":" + ranges(v.ranges) + "}";
}

std::string mappings(const std::vector<Mapping>& list) {
  return array(list, [](const Mapping& m) {
    return "{\"iova\":" + quote(hex(m.iova)) + ",\"pa\":" + quote(hex(m.pa)) +
           ",\"pages\":" + number(m.pages) + ",\"perms\":" + quote(perms_name(m.perms)) + "}";
  });
}

}  // namespace

std::string render_json(const Report& report) {
  std::ostringstream out;
  out << "{\"format\":\"kniommu-audit\",\"version\":1,"
      << "\"unit\":{\"cap\":" << quote(hex(report.regs.cap))
      << ",\"ecap\":" << quote(hex(report.regs.ecap))
      << ",\"translation_enabled\":" << (report.translation_enabled ? "true" : "false")
      << ",\"root_table\":" << quote(hex(report.root_table)) << ",\"haw\":" << report.haw
      << ",\"structure_pages\":" << report.structure_pages
      << ",\"sl_table_pages\":" << report.sl_table_pages << "},\"devices\":"
      << array(report.devices,
               [](const DeviceReport& d) {
                 std::string s = "{\"bdf\":" + quote(bdf_name(d.bdf)) +
                                 ",\"did\":" + number(d.did) + ",\"levels\":" + number(d.levels) +
                                 ",\"pass_through\":" + (d.pass_through ? "true" : "false") +
                                 ",\"tt\":" + (d.pass_through ? "2" : "0") +
                                 ",\"aw\":" + number(d.levels - 2) + ",\"name\":" + quote(d.name) +
                                 ",\"bypasses_iommu\":" + (d.bypasses_iommu ? "true" : "false");
                 if (d.owner) {
                   s += ",\"owner\":" + number(*d.owner) + ",\"domain_kind\":" +
                        quote(d.kind == snapshot::DomainKind::kCreated ? "created" : "automatic");
                 }
                 return s + ",\"reach\":" + ranges(d.reach) +
                        ",\"mappings\":" + mappings(d.mappings) +
                        ",\"mappings_truncated\":" + (d.mappings_truncated ? "true" : "false") +
                        "}";
               })
      << ",\"processes\":"
      << array(report.processes,
               [](const ProcessReport& p) {
                 return "{\"pid\":" + number(p.pid) + ",\"name\":" + quote(p.name) +
                        ",\"dids\":" + array(p.dids, [](std::uint16_t v) { return number(v); }) +
                        ",\"devices\":" +
                        array(p.devices, [](std::uint16_t v) { return quote(bdf_name(v)); }) +
                        ",\"buffers\":" + ranges(p.buffers) + ",\"reach\":" + ranges(p.reach) + "}";
               })
      << ",\"violations\":" << array(report.violations, violation)
      << ",\"findings\":" << array(report.findings, violation)
      << ",\"policy\":" << (report.has_policy ? "true" : "false") << "}\n";
  return out.str();
}

}  // namespace kniommu::audit
