// The kniommu snapshot: what the hardware can see of one remapping unit (registers and the
// table pages reachable from the root table), plus optional metadata from the system that took
// it (which process owns which domain, which physical pages are whose buffers).
// The byte-level file format is specified in docs/snapshot-format.md; this header is its
// in-memory form, shared by the reader, the writer and the audit.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kniommu::snapshot {

inline constexpr std::array<char, 8> kMagic = {'K', 'N', 'I', 'O', 'S', 'N', 'A', 'P'};
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::size_t kPageSize = 4096;
inline constexpr std::size_t kHeaderSize = 16;       // magic, version, flags, reserved
inline constexpr std::size_t kRecordHeaderSize = 8;  // tag, payload length
// Limits the reader enforces so a hostile file cannot make it allocate without bound.
inline constexpr std::size_t kMaxNameBytes = 256;
inline constexpr std::size_t kMaxBufferRanges = 4096;

enum class Tag : std::uint32_t {
  kRegisters = 1,
  kPage = 2,
  kProcess = 3,
  kDomain = 4,
  kBuffer = 5,
  kEnd = 0xFF,
  // Skippable extension (bit 31): what the platform says about a device that the tables cannot
  // show, e.g. a virtio device whose DMA bypasses the IOMMU (QEMU `info qtree`).
  kDevice = 0x80000001u,
};
// Records whose tag has this bit set are extensions a reader may skip when it does not know
// them; any other unknown tag is an error (a newer, incompatible writer).
inline constexpr std::uint32_t kTagSkippable = 0x80000000u;

// Register values as read through the MMIO window (VT-d spec §10.4 offsets 0x8, 0x10, 0x1C, 0x20).
struct Registers {
  std::uint64_t cap = 0;
  std::uint64_t ecap = 0;
  std::uint64_t gsts = 0;
  std::uint64_t rtaddr = 0;
};

using Page = std::array<std::uint8_t, kPageSize>;

struct Process {
  std::uint32_t pid = 0;
  std::string name;  // free text for people, e.g. "nic-driver"; may be empty
};

enum class DomainKind : std::uint8_t { kAutomatic = 0, kCreated = 1 };

struct Domain {
  std::uint32_t pid = 0;  // owner
  std::uint16_t did = 0;
  DomainKind kind = DomainKind::kAutomatic;
};

// Physical direction bits as VT-d sees them: what a device may do to the buffer's pages.
inline constexpr std::uint8_t kPermRead = 0x1;
inline constexpr std::uint8_t kPermWrite = 0x2;

struct PhysRange {
  std::uint64_t pa = 0;     // 4 KiB aligned
  std::uint64_t pages = 0;  // > 0
  friend bool operator==(const PhysRange&, const PhysRange&) = default;
};

struct Buffer {
  std::uint32_t pid = 0;   // owner
  std::uint32_t id = 0;    // the owner's name for it (e.g. its handle); unique per pid
  std::uint8_t perms = 0;  // kPermRead | kPermWrite, from the buffer's DMA direction
  std::vector<PhysRange> ranges;
};

// DEVICE record flags.
inline constexpr std::uint16_t kDeviceBdfKnown = 0x1;  // `bdf` is meaningful
inline constexpr std::uint16_t kDeviceBypass = 0x2;    // its DMA is not translated by the unit

struct DeviceInfo {
  std::uint16_t bdf = 0;
  std::uint16_t flags = 0;  // kDeviceBdfKnown | kDeviceBypass
  std::string name;         // e.g. "virtio-rng-pci"; at most kMaxNameBytes
  friend bool operator==(const DeviceInfo&, const DeviceInfo&) = default;
};

struct Snapshot {
  Registers regs;
  std::map<std::uint64_t, Page> pages;  // keyed by physical address (4 KiB aligned)
  std::vector<Process> processes;
  std::vector<Domain> domains;
  std::vector<Buffer> buffers;
  std::vector<DeviceInfo> devices;  // platform facts (DEVICE records); not ownership metadata

  bool has_metadata() const { return !processes.empty() || !domains.empty() || !buffers.empty(); }
};

}  // namespace kniommu::snapshot
