// Writing the renderings to files, including SVG through Graphviz `dot` when it is on PATH.
#pragma once

#include <string>
#include <vector>

#include "analysis/analysis.h"

namespace kniommu::audit {

// Pipes DOT text through `dot -Tsvg`. False with `error` set when dot is missing or fails.
bool write_svg(const std::string& dot_text, const std::string& svg_path, std::string& error);

bool write_text_file(const std::string& path, const std::string& content);

struct WrittenOutputs {
  std::vector<std::string> files;  // what was written
  std::string svg_note;            // why no SVG was written, if none was
  bool ok = true;                  // false when a text/JSON/DOT file could not be written
};

// <dir>/<stem>.txt, .json, .dot and (when dot is available) .svg.
WrittenOutputs write_all(const Report& report, const std::string& dir, const std::string& stem);

}  // namespace kniommu::audit
