#include "fake_qmp.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "analysis/names.h"
#include "live/json.h"

namespace kniommu::live::testing {
namespace {

constexpr std::uint64_t kBase = 0xfed90000;

std::string ok(const std::string& value) { return "{\"return\":" + value + "}\n"; }

}  // namespace

FakeQmp::FakeQmp(const std::string& socket_path, snapshot::Snapshot memory, std::uint64_t ram_bytes)
    : path_(socket_path), memory_(std::move(memory)), ram_bytes_(ram_bytes) {
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
  ::unlink(path_.c_str());
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
      ::listen(listen_fd_, 1) == 0) {
    thread_ = std::thread([this] { serve(); });
  }
}

FakeQmp::~FakeQmp() {
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::unlink(path_.c_str());
}

std::vector<std::string> FakeQmp::commands() {
  std::lock_guard<std::mutex> lock(mutex_);
  return commands_;
}

// One client at a time; the thread ends when the listening socket is shut down.
void FakeQmp::serve() {
  while (true) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0 || (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) return;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    const std::string greeting = "{\"QMP\":{\"version\":{},\"capabilities\":[]}}\n";
    (void)!::write(fd, greeting.data(), greeting.size());
    std::string buffer;
    char chunk[4096];
    for (ssize_t n; (n = ::read(fd, chunk, sizeof chunk)) > 0;) {
      buffer.append(chunk, static_cast<std::size_t>(n));
      for (std::size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
        const std::string reply = answer(buffer.substr(0, nl));
        buffer.erase(0, nl + 1);
        (void)!::write(fd, reply.data(), reply.size());
      }
    }
    ::close(fd);
  }
}

std::string FakeQmp::answer(const std::string& request) {
  const auto msg = parse_json(request);
  const Json* exec = msg ? msg->get("execute") : nullptr;
  if (exec == nullptr) return "{\"error\":{\"class\":\"GenericError\",\"desc\":\"bad request\"}}\n";
  const Json* args = msg->get("arguments");
  std::string name = exec->text;
  if (name == "human-monitor-command") name = args->get("command-line")->text;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    commands_.push_back(name);
  }
  if (name == "qmp_capabilities") return ok("{}");
  if (name == "query-status") {
    return ok(std::string("{\"status\":\"") + (running_ ? "running" : "paused") +
              "\",\"running\":" + (running_ ? "true" : "false") + "}");
  }
  if (name == "stop" || name == "cont") {
    running_ = name == "cont";
    return "{\"timestamp\":{},\"event\":\"" + std::string(running_ ? "RESUME" : "STOP") + "\"}\n" +
           ok("{}");
  }
  if (name == "info qtree") {
    return ok(json_quote("bus: main-system-bus\n  dev: intel-iommu, id \"\"\n    mmio " +
                         std::string("00000000fed90000/0000000000000230\n") + qtree_extra));
  }
  if (name == "info mtree -f") {
    char line[160];
    std::snprintf(
        line, sizeof line,
        "FlatView #0\n AS \"memory\", root: system\n  %016llx-%016llx (prio 0, ram): pc.ram\n",
        0ull, static_cast<unsigned long long>(ram_bytes_ - 1));
    return ok(json_quote(line));
  }
  if (name.rfind("xp ", 0) == 0) {
    const std::uint64_t addr = std::strtoull(name.c_str() + name.rfind(' ') + 1, nullptr, 16);
    const auto& r = memory_.regs;
    const std::uint64_t v = addr == kBase + 0x08   ? r.cap
                            : addr == kBase + 0x10 ? r.ecap
                            : addr == kBase + 0x1c ? r.gsts
                            : addr == kBase + 0x20 ? r.rtaddr
                                                   : 0;
    return ok(json_quote(audit::hex(addr) + ": " + audit::hex(v) + "\r\n"));
  }
  if (name == "pmemsave") {
    const std::uint64_t pa = std::strtoull(args->get("val")->text.c_str(), nullptr, 10);
    snapshot::Page page{};
    if (const auto it = memory_.pages.find(pa); it != memory_.pages.end()) page = it->second;
    std::ofstream(args->get("filename")->text, std::ios::binary)
        .write(reinterpret_cast<const char*>(page.data()), 4096);
    return ok("{}");
  }
  return "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"unknown " + name + "\"}}\n";
}

}  // namespace kniommu::live::testing
