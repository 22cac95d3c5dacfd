// linux_vm_check: the `linux` CTest's judge. Compares the audit of a snapshot captured from a
// running Linux guest with what Linux itself recorded (record.h), device by device: the same
// IOVA pages, to the same physical pages, with the same W. Then reads the e1000, nvme and AHCI
// ring/queue base registers through QMP and requires that each translates through that
// device's own domain in the audit. Seeded bugs (--mutant) show that each check can fail.
//   linux_vm_check SNAPSHOT RECORD QMP_SOCKET [--mutant drop-map|flip-write|wrong-domain]
// Exit status: 0 all checks pass, 1 a check failed, 2 bad input.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/analysis.h"
#include "analysis/names.h"
#include "live/live_capture.h"
#include "live/qemu_text.h"
#include "live/qmp_client.h"
#include "record.h"
#include "snapshot/reader.h"

namespace {

using namespace kniommu;
using audit::bdf_name;
using audit::hex;

constexpr std::uint16_t kE1000 = 0x0010;           // 00:02.0 (run_vm.sh addr=2)
constexpr std::uint16_t kNvme = 0x0020;            // 00:04.0
constexpr std::uint16_t kAhci = 0x00fa;            // 00:1f.2 (q35's ICH9 AHCI)
constexpr std::uint16_t kVirtioLegacy = 0x0028;    // 00:05.0, iommu_platform off
constexpr std::uint16_t kVirtioPlatform = 0x0030;  // 00:06.0, iommu_platform=on

int failures = 0;
void fail(const std::string& what) {
  std::printf("FAIL: %s\n", what.c_str());
  ++failures;
}

// The audit's IOVA pages of one device: IOVA page -> (PA page, W).
std::map<std::uint64_t, std::pair<std::uint64_t, bool>> audit_pages(const audit::DeviceReport& d) {
  std::map<std::uint64_t, std::pair<std::uint64_t, bool>> out;
  for (const auto& m : d.mappings) {
    for (std::uint64_t i = 0; i < m.pages; ++i) {
      out[m.iova + i * 4096] = {m.pa + i * 4096, (m.perms & audit::kWrite) != 0};
    }
  }
  return out;
}

// Guest-side reads over QMP (the VM is paused meanwhile by the caller).
class Guest {
 public:
  explicit Guest(live::QmpClient& qmp) : qmp_(qmp) {}
  std::uint64_t read(std::uint64_t addr, bool qword) {
    std::string out, error;
    if (!qmp_.hmp(std::string("xp /1") + (qword ? "gx " : "wx ") + hex(addr), out, error)) {
      fail("QMP read of " + hex(addr) + ": " + error);
      return 0;
    }
    return live::parse_xp_value(out).value_or(0);
  }
  // Configuration space through ECAM (q35: MCFG base, bus 0).
  std::uint32_t config32(std::uint64_t ecam, std::uint16_t bdf, unsigned offset) {
    return static_cast<std::uint32_t>(read(ecam + (std::uint64_t{bdf} << 12) + offset, false));
  }
  std::uint64_t bar(std::uint64_t ecam, std::uint16_t bdf, unsigned index) {
    const std::uint32_t lo = config32(ecam, bdf, 0x10 + 4 * index);
    std::uint64_t base = lo & ~0xfu;
    if ((lo & 0x6) == 0x4) base |= std::uint64_t{config32(ecam, bdf, 0x14 + 4 * index)} << 32;
    return base;
  }

 private:
  live::QmpClient& qmp_;
};

// 4 KiB of guest-physical memory at `pa` (pmemsave into a file next to `scratch`, then removed).
std::vector<unsigned char> read_page(live::QmpClient& qmp, std::uint64_t pa,
                                     const std::string& scratch) {
  std::vector<unsigned char> bytes(4096, 0);
  live::Json ignored;
  std::string error;
  if (!qmp.execute("pmemsave",
                   "{\"val\":" + std::to_string(pa) +
                       ",\"size\":4096,\"filename\":" + live::json_quote(scratch) + "}",
                   ignored, error)) {
    fail("pmemsave of " + hex(pa) + ": " + error);
    return bytes;
  }
  std::ifstream in(scratch, std::ios::binary);
  in.read(reinterpret_cast<char*>(bytes.data()), 4096);
  std::remove(scratch.c_str());
  return bytes;
}

std::uint64_t le64(const std::vector<unsigned char>& bytes, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t b = 8; b-- > 0;) v = v << 8 | bytes[at + b];
  return v;
}

// The virtio 1.x common configuration structure of a function: the BAR and offset named by its
// VIRTIO_PCI_CAP_COMMON_CFG vendor capability (virtio spec §4.1.4), or 0.
std::uint64_t virtio_common_cfg(Guest& guest, std::uint64_t ecam, std::uint16_t bdf) {
  unsigned cap = guest.config32(ecam, bdf, 0x34) & 0xfc;
  for (int hops = 0; cap != 0 && hops < 48; ++hops) {
    const std::uint32_t head = guest.config32(ecam, bdf, cap);
    if ((head & 0xff) == 0x09 && ((head >> 24) & 0xff) == 1) {  // vendor cap, cfg_type COMMON
      const unsigned bar = guest.config32(ecam, bdf, cap + 4) & 0xff;
      return guest.bar(ecam, bdf, bar) + guest.config32(ecam, bdf, cap + 8);
    }
    cap = (head >> 8) & 0xfc;
  }
  return 0;
}

struct Translator {
  const audit::Report& report;
  // Where `iova` translates for `bdf` in the audit (optionally requiring W), if anywhere.
  std::optional<std::uint64_t> translate(std::uint16_t bdf, std::uint64_t iova,
                                         bool need_write) const {
    for (const auto& d : report.devices) {
      if (d.bdf != bdf) continue;
      for (const auto& m : d.mappings) {
        if (iova >= m.iova && iova - m.iova < m.pages * 4096) {
          if (need_write && (m.perms & audit::kWrite) == 0) return std::nullopt;
          return m.pa + (iova - m.iova);
        }
      }
    }
    return std::nullopt;
  }
  bool translates(std::uint16_t bdf, std::uint64_t iova, bool need_write) const {
    return translate(bdf, iova, need_write).has_value();
  }
};

void check_ring(const Translator& t, std::uint16_t owner, const char* what, std::uint64_t iova,
                std::uint64_t bytes, bool need_write, std::size_t& checked) {
  if (iova == 0) {
    fail(std::string(what) + " of " + bdf_name(owner) + " is 0: the driver did not set it up");
    return;
  }
  for (std::uint64_t off = 0; off < std::max<std::uint64_t>(bytes, 1); off += 4096) {
    if (!t.translates(owner, iova + off, need_write)) {
      fail(std::string(what) + " " + hex(iova + off) + " of " + bdf_name(owner) +
           " does not translate" + (need_write ? " writable" : "") + " through DID of " +
           bdf_name(owner));
      return;
    }
  }
  ++checked;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && !(argc == 6 && std::string(argv[4]) == "--mutant")) {
    std::fprintf(stderr, "usage: linux_vm_check SNAPSHOT RECORD QMP_SOCKET [--mutant NAME]\n");
    return 2;
  }
  const std::string mutant = argc == 6 ? argv[5] : "";
  const auto read = snapshot::read_snapshot_file(argv[1]);
  if (!read.snapshot) {
    std::fprintf(stderr, "linux_vm_check: %s: %s\n", argv[1], read.error.to_string().c_str());
    return 2;
  }
  std::ifstream rf(argv[2]);
  std::ostringstream text;
  text << rf.rdbuf();
  linux_guest::Record record;
  std::string error;
  if (!rf || !linux_guest::parse_record(text.str(), record, error)) {
    std::fprintf(stderr, "linux_vm_check: %s: %s\n", argv[2], rf ? error.c_str() : "unreadable");
    return 2;
  }
  if (record.lost_events) fail("the trace ring buffer dropped events: the record is incomplete");
  std::printf("record: %zu attach, %zu map, %zu unmap events, %zu devices, %zu domains\n",
              record.attaches, record.maps, record.unmaps, record.domain_of.size(),
              record.domains.size());

  // Seeded bugs in the oracle's input: each must make the comparison fail.
  if (mutant == "drop-map" || mutant == "flip-write") {
    const auto e = record.domain_of.find(kE1000);
    auto& pages = record.domains[e == record.domain_of.end() ? 0 : e->second];
    if (pages.empty())
      fail("mutant " + mutant + ": e1000 has no pages to mutate");
    else if (mutant == "drop-map")
      pages.erase(pages.begin());
    else
      pages.begin()->second.prot ^= linux_guest::kProtWrite;
  }

  const auto report = audit::analyze(*read.snapshot);
  std::set<std::uint16_t> audited;
  std::size_t pages_compared = 0, forced_read = 0, requested_write_only = 0;
  for (const auto& d : report.devices) {
    audited.insert(d.bdf);
    const auto dom = record.domain_of.find(d.bdf);
    if (dom == record.domain_of.end()) {
      fail("device " + bdf_name(d.bdf) + " has a context entry but no attach in the record");
      continue;
    }
    const auto& want = record.domains[dom->second];
    const auto got = audit_pages(d);
    std::size_t mismatches = 0;
    for (const auto& [iova, entry] : want) {
      const auto g = got.find(iova);
      const bool w = (entry.prot & linux_guest::kProtWrite) != 0;
      if (g == got.end() || g->second.first != entry.pa || g->second.second != w) {
        if (mismatches++ < 3) {
          fail(bdf_name(d.bdf) + " IOVA " + hex(iova) + ": Linux mapped PA " + hex(entry.pa) +
               (w ? " W" : " no W") + ", the audit has " +
               (g == got.end()
                    ? "nothing"
                    : "PA " + hex(g->second.first) + (g->second.second ? " W" : " no W")));
        }
      }
      if ((entry.prot & 3) == linux_guest::kProtWrite) {
        ++requested_write_only;
        if (g != got.end()) {
          for (const auto& m : d.mappings) {
            if (iova >= m.iova && iova - m.iova < m.pages * 4096 && (m.perms & audit::kRead) != 0) {
              ++forced_read;
              break;
            }
          }
        }
      }
    }
    for (const auto& [iova, entry] : got) {
      if (!want.contains(iova) && mismatches++ < 3) {
        fail(bdf_name(d.bdf) + " IOVA " + hex(iova) + " -> " + hex(entry.first) +
             " is in the tables but not in Linux's record");
      }
    }
    if (mismatches > 3)
      fail(bdf_name(d.bdf) + ": " + std::to_string(mismatches) + " mismatches in all");
    pages_compared += want.size();
    std::printf("  %s DID %u: %zu pages in the record, %zu in the audit%s\n",
                bdf_name(d.bdf).c_str(), d.did, want.size(), got.size(),
                mismatches == 0 ? ", equal" : "");
  }
  for (const auto& [bdf, dom] : record.domain_of) {
    if (!audited.contains(bdf))
      fail("device " + bdf_name(bdf) + " attached in the record has no context entry");
  }
  std::printf(
      "compared %zu pages of %zu devices; %zu of %zu pages requested write-only carry R "
      "in the tables\n",
      pages_compared, report.devices.size(), forced_read, requested_write_only);

  // Device registers, read from outside: each ring base must translate in its own domain.
  live::QmpClient qmp;
  if (!qmp.connect(argv[3], error)) {
    fail(error);
    return 1;
  }
  live::Json ignored;
  if (!qmp.execute("stop", "", ignored, error)) fail(error);
  Guest guest(qmp);
  std::string qtree;
  std::uint64_t ecam = 0xb0000000;  // q35 MCFG; `info qtree` says so too
  if (qmp.hmp("info qtree", qtree, error)) {
    if (const auto at = qtree.find("MCFG = "); at != std::string::npos) {
      if (const auto paren = qtree.find("(0x", at); paren != std::string::npos)
        ecam = std::strtoull(qtree.c_str() + paren + 1, nullptr, 16);
    }
  }
  const Translator t{report};
  std::size_t rings = 0;
  // With --mutant wrong-domain every base is looked up in another device's domain.
  const auto owner = [&](std::uint16_t bdf) {
    return mutant != "wrong-domain" ? bdf : bdf == kE1000 ? kNvme : kE1000;
  };
  const std::uint64_t e1000 = guest.bar(ecam, kE1000, 0);
  // e1000 RDBAL/RDBAH/RDLEN at 0x2800.., TDBAL/TDBAH/TDLEN at 0x3800.. (8254x manual §13.4).
  const std::uint64_t rdba = guest.read(e1000 + 0x2800, false) | guest.read(e1000 + 0x2804, false)
                                                                     << 32;
  const std::uint64_t tdba = guest.read(e1000 + 0x3800, false) | guest.read(e1000 + 0x3804, false)
                                                                     << 32;
  check_ring(t, owner(kE1000), "e1000 RDBA", rdba, guest.read(e1000 + 0x2808, false), true, rings);
  check_ring(t, owner(kE1000), "e1000 TDBA", tdba, guest.read(e1000 + 0x3808, false), true, rings);
  // The receive descriptors the hardware owns (RDH up to RDT) hold buffer IOVAs the NIC will
  // write: read the ring where the audit says RDBA lands, and translate each buffer in the
  // same domain. Through a wrong domain the ring's page is some other data.
  const auto ring_pa = t.translate(owner(kE1000), rdba, false);
  const std::uint64_t rx_count = guest.read(e1000 + 0x2808, false) / 16;
  const std::uint64_t rdh = guest.read(e1000 + 0x2810, false),
                      rdt = guest.read(e1000 + 0x2818, false);
  std::size_t buffers = 0;
  if (ring_pa && rx_count > 0 && rx_count * 16 <= 4096 && rdh < rx_count && rdt < rx_count) {
    const auto bytes = read_page(qmp, *ring_pa, std::string(argv[1]) + ".page");
    for (std::uint64_t i = rdh; i != rdt; i = (i + 1) % rx_count) {
      const std::uint64_t buffer = le64(bytes, i * 16);
      if (!t.translates(owner(kE1000), buffer, true)) {
        fail("e1000 RX descriptor " + std::to_string(i) + " buffer " + hex(buffer) +
             " does not translate writable through the e1000 domain");
        break;
      }
      ++buffers;
    }
  } else {
    fail("e1000 RX ring not readable (RDLEN/RDH/RDT or RDBA translation)");
  }
  std::printf(
      "e1000: %zu hardware-owned RX buffers (RDH %llu, RDT %llu of %llu) translate writable\n",
      buffers, static_cast<unsigned long long>(rdh), static_cast<unsigned long long>(rdt),
      static_cast<unsigned long long>(rx_count));
  // nvme ASQ at 0x28, ACQ at 0x30 (NVMe base specification, controller registers).
  const std::uint64_t nvme = guest.bar(ecam, kNvme, 0);
  check_ring(t, owner(kNvme), "nvme ASQ", guest.read(nvme + 0x28, true), 4096, false, rings);
  const std::uint64_t asq = guest.read(nvme + 0x28, true);
  check_ring(t, owner(kNvme), "nvme ACQ", guest.read(nvme + 0x30, true), 4096, true, rings);
  // The I/O queues Linux created: Create I/O CQ (opcode 0x05) and SQ (0x01) commands in the
  // admin submission queue carry the queue base in PRP1 (bytes 24..31 of the 64-byte command).
  std::size_t io_queues = 0;
  if (const auto asq_pa = t.translate(owner(kNvme), asq, false)) {
    const auto cmds = read_page(qmp, *asq_pa, std::string(argv[1]) + ".page");
    const std::size_t entries =
        std::min<std::size_t>((guest.read(nvme + 0x24, false) & 0xfff) + 1, 64);
    for (std::size_t i = 0; i < entries; ++i) {
      const unsigned opcode = cmds[i * 64];
      if (opcode != 0x01 && opcode != 0x05) continue;
      check_ring(t, owner(kNvme), opcode == 0x05 ? "nvme I/O CQ" : "nvme I/O SQ",
                 le64(cmds, i * 64 + 24), 4096, opcode == 0x05, rings);
      ++io_queues;
    }
  }
  if (io_queues == 0) fail("no Create I/O Queue command found in the nvme admin queue");
  // AHCI: ABAR is BAR5; per implemented port PxCLB (0x100 + 0x80 * port) and PxFB (+8).
  const std::uint64_t abar = guest.bar(ecam, kAhci, 5);
  const std::uint32_t implemented = static_cast<std::uint32_t>(guest.read(abar + 0x0c, false));
  std::size_t ports = 0;
  for (unsigned p = 0; p < 32; ++p) {
    if ((implemented & (1u << p)) == 0) continue;
    const std::uint64_t port = abar + 0x100 + 0x80 * p;
    const std::uint64_t clb = guest.read(port, false) | guest.read(port + 4, false) << 32;
    const std::uint64_t fb = guest.read(port + 8, false) | guest.read(port + 0xc, false) << 32;
    check_ring(t, owner(kAhci), "AHCI CLB", clb, 1024, true, rings);
    check_ring(t, owner(kAhci), "AHCI FB", fb, 256, true, rings);
    ++ports;
  }
  // virtio: the queue of the iommu_platform device is an IOVA of its own domain; the other
  // device's live queue (queue_enable, DRIVER_OK) holds an address its (empty) domain does not
  // map at all: the device uses guest-physical addresses, bypassing the unit, as the audit's
  // iommu-bypass says. Registers of the common configuration (virtio spec §4.1.4.3).
  for (const std::uint16_t bdf : {kVirtioPlatform, kVirtioLegacy}) {
    const std::uint64_t cfg = virtio_common_cfg(guest, ecam, bdf);
    if (cfg == 0) {
      fail("no virtio common configuration for " + bdf_name(bdf));
      continue;
    }
    const auto status = guest.read(cfg + 0x14, false) & 0xff;
    const auto enabled = (guest.read(cfg + 0x1c, false) & 0xffff) != 0;
    const std::uint64_t desc = guest.read(cfg + 0x20, true), used = guest.read(cfg + 0x30, true);
    if ((status & 0x4) == 0 || !enabled || desc == 0) {
      fail("virtio " + bdf_name(bdf) + " has no live queue (status " + hex(status) + ")");
      continue;
    }
    if (bdf == kVirtioPlatform) {
      check_ring(t, owner(bdf), "virtio descriptor table", desc, 16, false, rings);
      check_ring(t, owner(bdf), "virtio used ring", used, 8, true, rings);
    } else if (t.translates(bdf, desc, false) || t.translates(bdf, used, false)) {
      fail("virtio " + bdf_name(bdf) + " queue " + hex(desc) +
           " translates in its domain: no bypass?");
    } else {
      std::printf(
          "virtio %s: live queue at %s, not mapped in its domain: it DMAs to guest-physical "
          "addresses, bypassing the IOMMU\n",
          bdf_name(bdf).c_str(), hex(desc).c_str());
    }
  }

  // The offline path on the same, still paused, guest: a dump-guest-memory ELF core plus the
  // snapshot's registers must yield exactly the same table pages.
  const std::string dump = std::string(argv[1]) + ".dump";
  if (!qmp.execute("dump-guest-memory",
                   "{\"paging\":false,\"protocol\":" + live::json_quote("file:" + dump) + "}",
                   ignored, error)) {
    fail("dump-guest-memory: " + error);
  } else {
    snapshot::Snapshot offline;
    live::CaptureReport cr;
    if (!live::capture_dump(dump, read.snapshot->regs, offline, cr)) {
      fail("offline capture: " + cr.error);
    } else if (offline.pages != read.snapshot->pages) {
      fail("the capture from the memory dump differs from the QMP capture (" +
           std::to_string(offline.pages.size()) + " vs " +
           std::to_string(read.snapshot->pages.size()) + " pages)");
    } else {
      std::printf("offline capture from a %s dump: the same %zu table pages\n", "dump-guest-memory",
                  offline.pages.size());
    }
  }
  std::remove(dump.c_str());
  if (!qmp.execute("cont", "", ignored, error)) fail(error);
  std::printf(
      "device registers: %zu ring/queue bases translate through their own domain "
      "(e1000 RDBA %s TDBA %s; nvme ASQ/ACQ and %zu I/O queues; %zu AHCI ports)\n",
      rings, hex(rdba).c_str(), hex(tdba).c_str(), io_queues, ports);
  if (failures != 0) std::printf("linux_vm_check: %d check(s) failed\n", failures);
  return failures == 0 ? 0 : 1;
}
