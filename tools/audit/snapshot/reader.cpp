#include "reader.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <utility>
#include <vector>

#include "bytes.h"

namespace kniommu::snapshot {
namespace {

constexpr std::size_t kRegistersPayload = 32;
constexpr std::size_t kPagePayload = 8 + kPageSize;
constexpr std::size_t kProcessFixed = 6;
constexpr std::size_t kDomainPayload = 8;
constexpr std::size_t kBufferFixed = 16;
constexpr std::size_t kRangeBytes = 16;
constexpr std::size_t kDeviceFixed = 6;

// Reads one record's payload; every getter is bounds-checked against the payload length that
// the record header announced (itself checked against the bytes left in the file).
class Parser {
 public:
  explicit Parser(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  ReadResult run() {
    if (!header()) return fail();
    bool seen_end = false;
    while (pos_ < bytes_.size()) {
      if (seen_end) return fail(pos_, "bytes after the END record");
      if (bytes_.size() - pos_ < kRecordHeaderSize) {
        return fail(pos_, "truncated record header");
      }
      const auto tag = bytes::get<std::uint32_t>(bytes_, pos_);
      const auto length = bytes::get<std::uint32_t>(bytes_, pos_ + 4);
      record_start_ = pos_;
      pos_ += kRecordHeaderSize;
      if (length > bytes_.size() - pos_) {
        return fail(record_start_,
                    "record of " + std::to_string(length) + " bytes runs past the end of the file");
      }
      payload_ = bytes_.subspan(pos_, length);
      pos_ += length;
      if (!have_registers_ && tag != static_cast<std::uint32_t>(Tag::kRegisters)) {
        return fail(record_start_, "the first record must be REGISTERS");
      }
      if (!record(tag, seen_end)) return fail();
    }
    if (!seen_end) return fail(pos_, "truncated: no END record");
    if (!cross_check()) return fail();
    return ReadResult{std::move(snapshot_), {}};
  }

 private:
  bool header() {
    if (bytes_.size() < kHeaderSize) return error(0, "truncated header (file too short)");
    if (!std::equal(kMagic.begin(), kMagic.end(), bytes_.begin())) {
      return error(0, "not a kniommu snapshot (bad magic)");
    }
    const auto version = bytes::get<std::uint16_t>(bytes_, 8);
    if (version != kVersion) {
      return error(8, "unsupported version " + std::to_string(version) +
                          " (this reader understands version " + std::to_string(kVersion) + ")");
    }
    if (bytes::get<std::uint16_t>(bytes_, 10) != 0) return error(10, "unknown header flags");
    if (bytes::get<std::uint32_t>(bytes_, 12) != 0) return error(12, "reserved header field not 0");
    pos_ = kHeaderSize;
    return true;
  }

  bool record(std::uint32_t tag, bool& seen_end) {
    switch (tag) {
      case static_cast<std::uint32_t>(Tag::kRegisters):
        return registers();
      case static_cast<std::uint32_t>(Tag::kPage):
        return page();
      case static_cast<std::uint32_t>(Tag::kProcess):
        return process();
      case static_cast<std::uint32_t>(Tag::kDomain):
        return domain();
      case static_cast<std::uint32_t>(Tag::kBuffer):
        return buffer();
      case static_cast<std::uint32_t>(Tag::kDevice):
        return device();
      case static_cast<std::uint32_t>(Tag::kEnd):
        if (!payload_.empty()) return error(record_start_, "END record with a payload");
        seen_end = true;
        return true;
      default:
        if ((tag & kTagSkippable) != 0) return true;
        return error(record_start_, "unknown record tag " + std::to_string(tag));
    }
  }

  bool expect_length(std::size_t expected, const char* what) {
    if (payload_.size() == expected) return true;
    return error(record_start_, std::string(what) + " record has " +
                                    std::to_string(payload_.size()) + " payload bytes, expected " +
                                    std::to_string(expected));
  }

  template <typename T>
  T field(std::size_t at) const {
    return bytes::get<T>(payload_, at);
  }

  bool registers() {
    if (have_registers_) return error(record_start_, "a second REGISTERS record");
    if (!expect_length(kRegistersPayload, "REGISTERS")) return false;
    snapshot_.regs = {field<std::uint64_t>(0), field<std::uint64_t>(8), field<std::uint64_t>(16),
                      field<std::uint64_t>(24)};
    have_registers_ = true;
    return true;
  }

  bool page() {
    if (!expect_length(kPagePayload, "PAGE")) return false;
    const auto pa = field<std::uint64_t>(0);
    if (pa % kPageSize != 0) return error(record_start_, "PAGE address not 4 KiB aligned");
    Page content;
    std::copy(payload_.begin() + 8, payload_.end(), content.begin());
    if (!snapshot_.pages.emplace(pa, content).second) {
      return error(record_start_, "PAGE at " + hex(pa) + " appears twice");
    }
    return true;
  }

  bool process() {
    if (payload_.size() < kProcessFixed) return error(record_start_, "PROCESS record too short");
    const auto name_length = field<std::uint16_t>(4);
    if (name_length > kMaxNameBytes)
      return error(record_start_, "PROCESS name longer than 256 bytes");
    if (!expect_length(kProcessFixed + name_length, "PROCESS")) return false;
    Process p{field<std::uint32_t>(0),
              std::string(payload_.begin() + kProcessFixed, payload_.end())};
    if (!pids_.insert(p.pid).second) {
      return error(record_start_, "PROCESS " + std::to_string(p.pid) + " appears twice");
    }
    snapshot_.processes.push_back(std::move(p));
    return true;
  }

  bool domain() {
    if (!expect_length(kDomainPayload, "DOMAIN")) return false;
    const auto kind = field<std::uint8_t>(6);
    if (kind > 1) return error(record_start_, "DOMAIN kind must be 0 (automatic) or 1 (created)");
    if (field<std::uint8_t>(7) != 0) return error(record_start_, "DOMAIN reserved byte not 0");
    Domain d{field<std::uint32_t>(0), field<std::uint16_t>(4), static_cast<DomainKind>(kind)};
    if (!dids_.insert(d.did).second) {
      return error(record_start_, "DOMAIN with DID " + std::to_string(d.did) + " appears twice");
    }
    snapshot_.domains.push_back(d);
    domain_offsets_.push_back(record_start_);
    return true;
  }

  bool buffer() {
    if (payload_.size() < kBufferFixed) return error(record_start_, "BUFFER record too short");
    Buffer b{field<std::uint32_t>(0), field<std::uint32_t>(4), field<std::uint8_t>(8), {}};
    if (b.perms == 0 || (b.perms & ~(kPermRead | kPermWrite)) != 0) {
      return error(record_start_, "BUFFER permissions must be R, W or RW");
    }
    if (field<std::uint8_t>(9) != 0 || field<std::uint16_t>(10) != 0) {
      return error(record_start_, "BUFFER reserved field not 0");
    }
    const auto count = field<std::uint32_t>(12);
    if (count == 0 || count > kMaxBufferRanges) {
      return error(record_start_, "BUFFER range count must be 1..4096");
    }
    if (!expect_length(kBufferFixed + std::size_t{count} * kRangeBytes, "BUFFER")) return false;
    b.ranges.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t at = kBufferFixed + i * kRangeBytes;
      const PhysRange r{field<std::uint64_t>(at), field<std::uint64_t>(at + 8)};
      if (r.pa % kPageSize != 0 || r.pages == 0 || r.pages > (~r.pa >> 12)) {
        return error(record_start_,
                     "BUFFER range " + std::to_string(i) + " is unaligned, empty or wraps around");
      }
      b.ranges.push_back(r);
    }
    if (!buffer_ids_.emplace(b.pid, b.id).second) {
      return error(record_start_, "BUFFER " + std::to_string(b.id) + " of process " +
                                      std::to_string(b.pid) + " appears twice");
    }
    snapshot_.buffers.push_back(std::move(b));
    buffer_offsets_.push_back(record_start_);
    return true;
  }

  bool device() {
    if (payload_.size() < kDeviceFixed) return error(record_start_, "DEVICE record too short");
    DeviceInfo d{field<std::uint16_t>(0), field<std::uint16_t>(2), {}};
    if ((d.flags & ~(kDeviceBdfKnown | kDeviceBypass)) != 0) {
      return error(record_start_, "DEVICE record has unknown flags");
    }
    const auto name_length = field<std::uint16_t>(4);
    if (name_length > kMaxNameBytes)
      return error(record_start_, "DEVICE name longer than 256 bytes");
    if (!expect_length(kDeviceFixed + name_length, "DEVICE")) return false;
    d.name.assign(payload_.begin() + kDeviceFixed, payload_.end());
    snapshot_.devices.push_back(std::move(d));
    return true;
  }

  // Metadata may come in any order; owners are checked once everything is read.
  bool cross_check() {
    for (std::size_t i = 0; i < snapshot_.domains.size(); ++i) {
      const auto& d = snapshot_.domains[i];
      if (!pids_.contains(d.pid)) {
        return error(domain_offsets_[i], "DOMAIN " + std::to_string(d.did) +
                                             " owned by undeclared process " +
                                             std::to_string(d.pid));
      }
    }
    for (std::size_t i = 0; i < snapshot_.buffers.size(); ++i) {
      const auto& b = snapshot_.buffers[i];
      if (!pids_.contains(b.pid)) {
        return error(buffer_offsets_[i], "BUFFER " + std::to_string(b.id) +
                                             " owned by undeclared process " +
                                             std::to_string(b.pid));
      }
    }
    return true;
  }

  static std::string hex(std::uint64_t value) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    do {
      s.insert(s.begin(), kDigits[value & 0xF]);
      value >>= 4;
    } while (value != 0);
    return "0x" + s;
  }

  bool error(std::uint64_t offset, std::string message) {
    error_ = {offset, std::move(message)};
    return false;
  }
  ReadResult fail() { return ReadResult{std::nullopt, error_}; }
  ReadResult fail(std::uint64_t offset, std::string message) {
    error(offset, std::move(message));
    return fail();
  }

  std::span<const std::uint8_t> bytes_;
  std::span<const std::uint8_t> payload_;
  std::size_t pos_ = 0;
  std::size_t record_start_ = 0;
  bool have_registers_ = false;
  std::set<std::uint32_t> pids_;
  std::set<std::uint16_t> dids_;
  std::set<std::pair<std::uint32_t, std::uint32_t>> buffer_ids_;
  // Where each metadata record started, so cross_check can point at it.
  std::vector<std::size_t> domain_offsets_;
  std::vector<std::size_t> buffer_offsets_;
  ReadError error_;
  Snapshot snapshot_;
};

}  // namespace

std::string ReadError::to_string() const {
  return "byte " + std::to_string(offset) + ": " + message;
}

ReadResult read_snapshot(std::span<const std::uint8_t> bytes) { return Parser(bytes).run(); }

ReadResult read_snapshot_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return ReadResult{std::nullopt, {0, "cannot open " + path}};
  const std::vector<std::uint8_t> data{std::istreambuf_iterator<char>(file),
                                       std::istreambuf_iterator<char>()};
  if (file.bad()) return ReadResult{std::nullopt, {0, "cannot read " + path}};
  return read_snapshot(data);
}

}  // namespace kniommu::snapshot
