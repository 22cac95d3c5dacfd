#include "render/outputs.h"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include "render/render.h"
#include "render/shell.h"

namespace kniommu::audit {
bool write_text_file(const std::string& path, const std::string& content) {
  std::ofstream file(path, std::ios::trunc);
  file << content;
  return static_cast<bool>(file.flush());
}

bool write_svg(const std::string& dot_text, const std::string& svg_path, std::string& error) {
  if (std::system("command -v dot >/dev/null 2>&1") != 0) {
    error = "Graphviz `dot` is not on PATH (scripts/bootstrap installs graphviz); no SVG written";
    return false;
  }
  const std::string command = "dot -Tsvg -o " + shell_quote(svg_path);
  FILE* pipe = popen(command.c_str(), "w");
  if (pipe == nullptr) {
    error = "cannot run dot";
    return false;
  }
  const bool written = std::fwrite(dot_text.data(), 1, dot_text.size(), pipe) == dot_text.size();
  const int status = pclose(pipe);
  if (!written || status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    error = "dot -Tsvg failed";
    return false;
  }
  return true;
}

WrittenOutputs write_all(const Report& report, const std::string& dir, const std::string& stem) {
  WrittenOutputs out;
  const std::string base = dir + "/" + stem;
  const std::string dot = render_dot(report);
  const std::pair<std::string, std::string> files[] = {{base + ".txt", render_text(report)},
                                                       {base + ".json", render_json(report)},
                                                       {base + ".dot", dot}};
  for (const auto& [path, content] : files) {
    if (write_text_file(path, content)) {
      out.files.push_back(path);
    } else {
      out.ok = false;
    }
  }
  if (write_svg(dot, base + ".svg", out.svg_note)) out.files.push_back(base + ".svg");
  return out;
}

}  // namespace kniommu::audit
