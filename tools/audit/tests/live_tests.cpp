// Capture from systems kniommu did not build, without a VM: QEMU's HMP text, the QMP JSON
// reader, register specs, offline capture from raw and ELF memory dumps (and its refusals),
// the DEVICE record of the snapshot format, and the Linux guest's kprobe record.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "../linux/record.h"
#include "analysis/analysis.h"
#include "fake_qmp.h"
#include "live/json.h"
#include "live/live_capture.h"
#include "live/qemu_text.h"
#include "snapshot/reader.h"
#include "snapshot/writer.h"
#include "table_builder.h"

namespace kniommu::live {
namespace {

constexpr std::uint8_t RW = audit::kRead | audit::kWrite;

TEST(QemuText, XpValue) {
  EXPECT_EQ(parse_xp_value("00000000fed90008: 0x00d2008c22260206\r\n"), 0x00d2008c22260206u);
  EXPECT_EQ(parse_xp_value("garbage"), std::nullopt);
}

TEST(QemuText, RamRangesComeOnlyFromTheMemoryAddressSpace) {
  const std::string mtree =
      "FlatView #0\n AS \"memory\", root: system\n Root memory region: system\n"
      "  0000000000000000-00000000000bffff (prio 0, ram): pc.ram\n"
      "  00000000000c0000-00000000000c0fff (prio 0, rom): pc.ram @00000000000c0000\n"
      "  0000000000100000-000000001fffffff (prio 0, ram): pc.ram @0000000000100000\n"
      "  00000000fed90000-00000000fed9022f (prio 0, i/o): intel_iommu\n"
      "FlatView #1\n AS \"e1000\", root: bus master container\n"
      "  0000000100000000-00000001ffffffff (prio 0, ram): not cpu memory\n";
  const auto ram = parse_ram_ranges(mtree);
  ASSERT_EQ(ram.size(), 2u);
  EXPECT_TRUE(page_in_ram(ram, 0x1ffff000));
  EXPECT_FALSE(page_in_ram(ram, 0x20000000));
  EXPECT_FALSE(page_in_ram(ram, 0xc0000));  // ROM
  EXPECT_FALSE(page_in_ram(ram, 0xfed90000));
  EXPECT_FALSE(page_in_ram(ram, 0x100000000));
}

TEST(QemuText, QtreeNamesVirtioBypassByFunction) {
  const std::string qtree =
      "bus: main-system-bus\n  type System\n  dev: intel-iommu, id \"\"\n"
      "    aw-bits = 39 (0x27)\n    mmio 00000000fed90000/0000000000000230\n"
      "  dev: q35-pcihost, id \"\"\n    bypass-iommu = false\n    bus: pcie.0\n      type PCIE\n"
      "      dev: virtio-rng-pci, id \"\"\n        addr = 06.0\n"
      "        class Class 00ff, addr 00:06.0, pci id 1af4:1044 (sub 1af4:1100)\n"
      "        bus: virtio-bus\n          type virtio-pci-bus\n"
      "          dev: virtio-rng-device, id \"\"\n            iommu_platform = true\n"
      "      dev: virtio-rng-pci, id \"\"\n        addr = 05.0\n"
      "        class Class 00ff, addr 00:05.0, pci id 1af4:1005 (sub 1af4:0004)\n"
      "        bus: virtio-bus\n"
      "          dev: virtio-rng-device, id \"\"\n            iommu_platform = false\n"
      "      dev: e1000, id \"\"\n        class Ethernet controller, addr 00:02.0, pci id "
      "8086:100e\n";
  const auto facts = parse_qtree(qtree);
  EXPECT_EQ(facts.dmar_base, 0xfed90000u);
  ASSERT_EQ(facts.devices.size(), 3u);  // every PCI function, named
  EXPECT_EQ(facts.devices[0],
            (snapshot::DeviceInfo{0x30, snapshot::kDeviceBdfKnown, "virtio-rng-pci"}));
  EXPECT_EQ(facts.devices[1],
            (snapshot::DeviceInfo{0x28, snapshot::kDeviceBdfKnown | snapshot::kDeviceBypass,
                                  "virtio-rng-pci"}));
}

TEST(Json, ParsesQmpRepliesAndRejectsMalformedOnes) {
  const auto v =
      parse_json(R"({"return": {"status": "running", "running": true, "n": [1, -2.5e3]}})");
  ASSERT_TRUE(v.has_value());
  const Json* r = v->get("return");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->get("status")->text, "running");
  EXPECT_TRUE(r->get("running")->boolean);
  EXPECT_EQ(r->get("n")->items.size(), 2u);
  EXPECT_EQ(parse_json(R"("a\nb\u0041")")->text, "a\nbA");
  for (const char* bad : {"{", "{\"a\" 1}", "[1,]", "\"abc", "{} x", "", "[\"\\u12\"]"}) {
    EXPECT_FALSE(parse_json(bad).has_value()) << bad;
  }
  EXPECT_FALSE(parse_json(std::string(100, '[') + std::string(100, ']')).has_value());  // depth
}

TEST(Registers, SpecNeedsAllFourValues) {
  snapshot::Registers r;
  std::string error;
  ASSERT_TRUE(parse_registers("cap=0xd2008c22260206,ecap=0xf00f4a gsts=0xc7000000,rtaddr=0x365d000",
                              r, error))
      << error;
  EXPECT_EQ(r.rtaddr, 0x365d000u);
  EXPECT_FALSE(parse_registers("cap=1,ecap=2,gsts=3", r, error));
  EXPECT_EQ(error, "registers need all of cap=, ecap=, gsts=, rtaddr=");
  EXPECT_FALSE(parse_registers("cap=1,ecap=2,gsts=3,rtaddr=zz", r, error));
  EXPECT_FALSE(parse_registers("cap=1,ecap=2,gsts=0x100000000,rtaddr=0", r, error));
  EXPECT_FALSE(parse_registers("@/nonexistent/regs", r, error));
}

// A system with one device and one mapping, written out as a memory dump.
struct Dumped {
  audit::testing::TableBuilder b;
  std::string dir = [] {
    std::string p = (std::filesystem::temp_directory_path() / "kniommu-live-XXXXXX").string();
    return std::string(::mkdtemp(p.data()));
  }();
  Dumped() {
    const auto root = b.new_page();
    b.attach(0x10, 1, root);
    b.map(root, 0x1000, 0x40000000, RW);
  }
  ~Dumped() { std::filesystem::remove_all(dir); }
  // Raw image: byte offset = physical address (only up to the last table page).
  std::string raw() {
    const std::string path = dir + "/raw.img";
    std::ofstream f(path, std::ios::binary);
    for (const auto& [pa, page] : b.snapshot().pages) {
      f.seekp(static_cast<std::streamoff>(pa));
      f.write(reinterpret_cast<const char*>(page.data()), 4096);
    }
    return path;
  }
  // ELF64 core with one PT_LOAD segment holding the pages from `base` on at file offset 4096.
  std::string elf(std::uint64_t base, std::uint64_t size) {
    const std::string path = dir + "/core.elf";
    std::vector<std::uint8_t> out(4096 + size, 0);
    const auto put = [&](std::size_t at, std::uint64_t v, int n) {
      for (int i = 0; i < n; ++i)
        out[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
    };
    std::memcpy(out.data(),
                "\x7f"
                "ELF",
                4);
    out[4] = 2;             // ELFCLASS64
    out[5] = 1;             // little-endian
    put(32, 64, 8);         // e_phoff
    put(54, 56, 2);         // e_phentsize
    put(56, 1, 2);          // e_phnum
    put(64, 1, 4);          // PT_LOAD
    put(64 + 8, 4096, 8);   // p_offset
    put(64 + 24, base, 8);  // p_paddr
    put(64 + 32, size, 8);  // p_filesz
    for (const auto& [pa, page] : b.snapshot().pages) {
      if (pa >= base && pa + 4096 <= base + size)
        std::memcpy(&out[4096 + (pa - base)], page.data(), 4096);
    }
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
    return path;
  }
};

TEST(DumpCapture, RawAndElfDumpsGiveTheSamePagesAsTheSystem) {
  Dumped d;
  for (const auto& path : {d.raw(), d.elf(0x100000, 0x10000)}) {
    snapshot::Snapshot s;
    CaptureReport report;
    ASSERT_TRUE(capture_dump(path, d.b.snapshot().regs, s, report)) << report.error;
    EXPECT_EQ(s.pages, d.b.snapshot().pages) << path;
    EXPECT_EQ(audit::analyze(s).devices.size(), 1u);
  }
}

TEST(DumpCapture, RefusesScalableModeAndARootOutsideTheDump) {
  Dumped d;
  snapshot::Snapshot s;
  CaptureReport report;
  auto regs = d.b.snapshot().regs;
  regs.rtaddr |= 1u << 10;  // TTM = 01
  EXPECT_FALSE(capture_dump(d.raw(), regs, s, report));
  EXPECT_NE(report.error.find("scalable mode"), std::string::npos) << report.error;
  // An ELF dump whose memory starts after the root table.
  report = {};
  EXPECT_FALSE(capture_dump(d.elf(0x200000, 0x1000), d.b.snapshot().regs, s, report));
  EXPECT_NE(report.error.find("outside the memory in the dump"), std::string::npos) << report.error;
  report = {};
  EXPECT_FALSE(capture_dump(d.dir + "/none", d.b.snapshot().regs, s, report));
  EXPECT_NE(report.error.find("cannot open dump"), std::string::npos);
}

TEST(DumpCapture, AMissingTablePageIsAWarningAndAnAuditFinding) {
  Dumped d;
  const auto path = d.elf(0x100000, 0x2000);  // root + context table, not the SL tables
  snapshot::Snapshot s;
  CaptureReport report;
  ASSERT_TRUE(capture_dump(path, d.b.snapshot().regs, s, report)) << report.error;
  EXPECT_FALSE(report.warnings.empty());
  const auto r = audit::analyze(s);
  EXPECT_TRUE(std::any_of(r.violations.begin(), r.violations.end(), [](const audit::Violation& v) {
    return v.kind == audit::ViolationKind::kMissingPage;
  }));
}

TEST(SnapshotDevice, RoundTripsAndRejectsUnknownFlags) {
  snapshot::Snapshot s;
  s.devices = {{0x28, snapshot::kDeviceBdfKnown | snapshot::kDeviceBypass, "virtio-rng-pci"}};
  auto bytes = snapshot::write_snapshot(s);
  const auto back = snapshot::read_snapshot(bytes);
  ASSERT_TRUE(back.snapshot.has_value()) << back.error.to_string();
  EXPECT_EQ(back.snapshot->devices, s.devices);
  // flags are at payload offset 2 of the first record after REGISTERS (16 + 8 + 32 + 8).
  bytes[16 + 8 + 32 + 8 + 2] |= 0x80;
  const auto bad = snapshot::read_snapshot(bytes);
  ASSERT_FALSE(bad.snapshot.has_value());
  EXPECT_NE(bad.error.message.find("unknown flags"), std::string::npos);
}

TEST(LinuxRecord, ReplaysAttachMapUnmap) {
  const std::string trace =
      "# entries-in-buffer/entries-written: 5/5   #P:1\n"
      " swapper/0-1 [000] ..... 3.0: att: (intel_iommu_attach_device+0x0/0x8c0) dom=0xffff1 "
      "dev=\"0000:00:02.0\"\n"
      " ip-128 [000] ..... 8.6: imap: (intel_iommu_map_pages+0x0/0xe0) dom=0xffff1 iova=0xfff00000 "
      "paddr=0x1c188000 pgsize=0x1000 pgcount=0x3 prot=0x6\n"
      " ip-128 [000] ..... 8.7: map: IOMMU: iova=0x00000000fff00000 - 0x00000000fff01000 paddr=0x0 "
      "size=4096\n"
      " ip-128 [000] ..... 8.8: iunmap: (intel_iommu_unmap_pages+0x0/0x1) dom=0xffff1 "
      "iova=0xfff01000 "
      "pgsize=0x1000 pgcount=0x1\n";
  linux_guest::Record r;
  std::string error;
  ASSERT_TRUE(linux_guest::parse_record(trace, r, error)) << error;
  EXPECT_FALSE(r.lost_events);
  EXPECT_EQ(r.domain_of.at(0x10), 0xffff1u);
  const auto& pages = r.domains.at(0xffff1);
  ASSERT_EQ(pages.size(), 2u);
  EXPECT_EQ(pages.at(0xfff00000), (linux_guest::PageEntry{0x1c188000, 6}));
  EXPECT_EQ(pages.at(0xfff02000), (linux_guest::PageEntry{0x1c18a000, 6}));
  linux_guest::Record lost;
  ASSERT_TRUE(linux_guest::parse_record("# entries-in-buffer/entries-written: 106/411   #P:1\n",
                                        lost, error));
  EXPECT_TRUE(lost.lost_events);
  EXPECT_FALSE(linux_guest::parse_record(" x: imap: dom=0x1 iova=0x0\n", lost, error));
  linux_guest::Record empty;
  EXPECT_FALSE(linux_guest::parse_record("", empty, error));  // a lost console, not "no DMA"
  EXPECT_NE(error.find("no trace header"), std::string::npos);
}

}  // namespace
}  // namespace kniommu::live

namespace kniommu::live {
namespace {

// The same one-device system, served by a fake QEMU instead of written as a dump.
struct QmpSystem : Dumped {
  std::string socket() const { return dir + "/qmp.sock"; }
};

TEST(QmpCapture, PausesReadsEveryTablePageAndResumes) {
  QmpSystem sys;
  testing::FakeQmp qemu(sys.socket(), sys.b.snapshot(), 0x20000000);
  qemu.qtree_extra =
      "  dev: q35-pcihost, id \"\"\n    bus: pcie.0\n      dev: virtio-rng-pci, id \"\"\n"
      "        class Class 00ff, addr 00:05.0, pci id 1af4:1005\n        bus: virtio-bus\n"
      "          dev: virtio-rng-device, id \"\"\n            iommu_platform = false\n";
  snapshot::Snapshot s;
  CaptureReport report;
  ASSERT_TRUE(capture_qmp(sys.socket(), {}, s, report)) << report.error;
  EXPECT_EQ(s.regs.rtaddr, sys.b.snapshot().regs.rtaddr);
  EXPECT_EQ(s.pages, sys.b.snapshot().pages);
  ASSERT_EQ(s.devices.size(), 1u);
  EXPECT_EQ(s.devices[0].flags, snapshot::kDeviceBdfKnown | snapshot::kDeviceBypass);
  const auto cmds = qemu.commands();
  ASSERT_GE(cmds.size(), 3u);
  EXPECT_EQ(cmds[2], "stop");  // after qmp_capabilities and query-status, before any read
  EXPECT_EQ(cmds.back(), "cont");
  EXPECT_TRUE(qemu.running());
}

TEST(QmpCapture, APausedVmStaysPaused) {
  QmpSystem sys;
  testing::FakeQmp qemu(sys.socket(), sys.b.snapshot(), 0x20000000);
  qemu.set_running(false);
  snapshot::Snapshot s;
  CaptureReport report;
  ASSERT_TRUE(capture_qmp(sys.socket(), {}, s, report)) << report.error;
  const auto cmds = qemu.commands();
  EXPECT_EQ(
      std::count(cmds.begin(), cmds.end(), "stop") + std::count(cmds.begin(), cmds.end(), "cont"),
      0);
  EXPECT_FALSE(qemu.running());
}

TEST(QmpCapture, RefusalsResumeTheVmToo) {
  for (const bool scalable : {true, false}) {
    QmpSystem sys;
    auto memory = sys.b.snapshot();
    if (scalable) memory.regs.rtaddr |= 1u << 10;  // TTM = 01
    // Without scalable mode: RAM ends below the root table (0x100000).
    testing::FakeQmp qemu(sys.socket(), memory, scalable ? 0x20000000 : 0x100000);
    snapshot::Snapshot s;
    CaptureReport report;
    EXPECT_FALSE(capture_qmp(sys.socket(), {}, s, report));
    EXPECT_NE(report.error.find(scalable ? "scalable mode" : "outside guest RAM"),
              std::string::npos)
        << report.error;
    EXPECT_EQ(qemu.commands().back(), "cont");
    EXPECT_TRUE(qemu.running());
    for (const auto& c : qemu.commands()) EXPECT_NE(c, "pmemsave") << "read a page after refusing";
  }
}

TEST(QmpCapture, NoServerIsAClearError) {
  CaptureReport report;
  snapshot::Snapshot s;
  EXPECT_FALSE(capture_qmp("/nonexistent/qmp.sock", {}, s, report));
  EXPECT_NE(report.error.find("cannot connect to QMP socket"), std::string::npos);
}

}  // namespace
}  // namespace kniommu::live
