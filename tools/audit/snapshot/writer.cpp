#include "writer.h"

#include <cstring>
#include <fstream>

#include "bytes.h"

namespace kniommu::snapshot {
namespace {

using bytes::put;

// resize + memcpy rather than vector::insert: GCC 12 at -O2 reports false stringop-overflow
// warnings for insert after reserve.
void append(std::vector<std::uint8_t>& out, const void* data, std::size_t size) {
  const std::size_t at = out.size();
  out.resize(at + size);
  if (size != 0) std::memcpy(out.data() + at, data, size);
}

// Appends a record header whose length is patched by finish_record once the payload is known.
std::size_t begin_record(std::vector<std::uint8_t>& out, Tag tag) {
  put<std::uint32_t>(out, static_cast<std::uint32_t>(tag));
  put<std::uint32_t>(out, 0);
  return out.size();
}

void finish_record(std::vector<std::uint8_t>& out, std::size_t payload_start) {
  const auto length = static_cast<std::uint32_t>(out.size() - payload_start);
  for (std::size_t i = 0; i < 4; ++i) {
    out[payload_start - 4 + i] = static_cast<std::uint8_t>(length >> (8 * i));
  }
}

}  // namespace

std::vector<std::uint8_t> write_snapshot(const Snapshot& snapshot) {
  std::vector<std::uint8_t> out;
  out.reserve(kHeaderSize + 64 + snapshot.pages.size() * (kRecordHeaderSize + 8 + kPageSize));
  append(out, kMagic.data(), kMagic.size());
  put<std::uint16_t>(out, kVersion);
  put<std::uint16_t>(out, 0);  // flags
  put<std::uint32_t>(out, 0);  // reserved

  auto at = begin_record(out, Tag::kRegisters);
  put(out, snapshot.regs.cap);
  put(out, snapshot.regs.ecap);
  put(out, snapshot.regs.gsts);
  put(out, snapshot.regs.rtaddr);
  finish_record(out, at);

  for (const auto& [pa, page] : snapshot.pages) {
    at = begin_record(out, Tag::kPage);
    put(out, pa);
    append(out, page.data(), page.size());
    finish_record(out, at);
  }
  for (const auto& process : snapshot.processes) {
    at = begin_record(out, Tag::kProcess);
    put(out, process.pid);
    put(out, static_cast<std::uint16_t>(process.name.size()));
    append(out, process.name.data(), process.name.size());
    finish_record(out, at);
  }
  for (const auto& domain : snapshot.domains) {
    at = begin_record(out, Tag::kDomain);
    put(out, domain.pid);
    put(out, domain.did);
    put(out, static_cast<std::uint8_t>(domain.kind));
    put<std::uint8_t>(out, 0);
    finish_record(out, at);
  }
  for (const auto& buffer : snapshot.buffers) {
    at = begin_record(out, Tag::kBuffer);
    put(out, buffer.pid);
    put(out, buffer.id);
    put(out, buffer.perms);
    put<std::uint8_t>(out, 0);
    put<std::uint16_t>(out, 0);
    put(out, static_cast<std::uint32_t>(buffer.ranges.size()));
    for (const auto& range : buffer.ranges) {
      put(out, range.pa);
      put(out, range.pages);
    }
    finish_record(out, at);
  }
  for (const auto& device : snapshot.devices) {
    at = begin_record(out, Tag::kDevice);
    put(out, device.bdf);
    put(out, device.flags);
    put(out, static_cast<std::uint16_t>(device.name.size()));
    append(out, device.name.data(), device.name.size());
    finish_record(out, at);
  }
  finish_record(out, begin_record(out, Tag::kEnd));
  return out;
}

bool write_snapshot_file(const Snapshot& snapshot, const std::string& path) {
  const auto data = write_snapshot(snapshot);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(file.flush());
}

}  // namespace kniommu::snapshot
