// The QEMU backend itself: process lifecycle and error paths, and the unchanged driver (kos) on
// QEMU's VT-d: a granted buffer is reachable, a closed grant faults with QEMU's own fault record.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include <cstring>
#include <string>

#include "kniommu/dma.h"
#include "kniommu/iommu_api.h"
#include "kos/hardware.h"
#include "qemu/halt_bios.h"
#include "qemu/qemu_machine.h"
#include "qemu/qtest_client.h"
#include "qemu/tests/qemu_test_util.h"

namespace kniommu::qemu::test {
namespace {

constexpr std::uint16_t kDevices[] = {0x0008, 0x0010, 0x0100, 0x0301};

bool process_alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }
// A killed process not yet reaped by its new parent.
bool zombie(pid_t pid) {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return true;
  int id = 0;
  char comm[64] = {}, state = 0;
  const bool z = std::fscanf(f, "%d %63s %c", &id, comm, &state) == 3 && state == 'Z';
  std::fclose(f);
  return z;
}
bool path_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

TEST(HaltBios, ResetVectorHalts) {
  const auto img = halt_bios_image();
  ASSERT_EQ(img.size(), 65536u);
  EXPECT_EQ(img[0xFFF0], 0xFA);  // cli
  EXPECT_EQ(img[0xFFF1], 0xF4);  // hlt
  EXPECT_EQ(img[0xFFF2], 0xEB);  // jmp
  EXPECT_EQ(img[0xFFF3], 0xFD);  // -3: back to the hlt
  EXPECT_EQ(img[0], 0xF4);
}

TEST(QtestClient, MissingBinaryIsNotReady) {
  LaunchOptions o;
  o.binary = "/nonexistent/qemu-system-x86_64";
  std::unique_ptr<QtestClient> c;
  std::string err;
  EXPECT_EQ(QtestClient::launch(o, &c, &err), rcNotReady);
  EXPECT_NE(err.find("not found"), std::string::npos) << err;
  EXPECT_EQ(c, nullptr);
}

TEST(QtestClient, RefusedOptionGivesQemusMessage) {
  KNIOMMU_REQUIRE_QEMU();
  LaunchOptions o;
  o.args = {"-machine", "q35",  "-accel",  "tcg",           "-nodefaults",
            "-display", "none", "-device", "no-such-device"};
  std::unique_ptr<QtestClient> c;
  std::string err;
  EXPECT_EQ(QtestClient::launch(o, &c, &err), rcInvalidArgument);
  EXPECT_NE(err.find("no-such-device"), std::string::npos) << err;
}

TEST(QtestClient, StopsQemuAndRemovesItsDirectory) {
  KNIOMMU_REQUIRE_QEMU();
  const uint16_t dev[] = {0x0008};
  std::unique_ptr<QemuMachine> m;
  std::string err;
  ASSERT_EQ(QemuMachine::start(qemu_config(dev, 1), &m, &err), rcOk) << err;
  const pid_t pid = m->qtest().pid();
  const std::string dir = m->qtest().directory();
  EXPECT_TRUE(process_alive(pid));
  EXPECT_TRUE(path_exists(dir + "/qtest.sock"));
  m.reset();
  EXPECT_FALSE(process_alive(pid));  // reaped (kill on a reaped PID fails)
  EXPECT_FALSE(path_exists(dir));
}

// A test process killed without running destructors (a CTest timeout) takes its QEMU with it.
TEST(QtestClient, QemuDiesWithAKilledOwner) {
  KNIOMMU_REQUIRE_QEMU();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t owner = ::fork();
  if (owner == 0) {
    const uint16_t dev[] = {0x0008};
    std::unique_ptr<QemuMachine> m;
    std::string err;
    pid_t qemu = -1;
    char dir[256] = {};
    if (QemuMachine::start(qemu_config(dev, 1), &m, &err) == rcOk) {
      qemu = m->qtest().pid();
      std::snprintf(dir, sizeof dir, "%s", m->qtest().directory().c_str());
    }
    (void)!::write(fds[1], &qemu, sizeof qemu);
    (void)!::write(fds[1], dir, sizeof dir);
    ::pause();
    ::_exit(0);
  }
  pid_t qemu = -1;
  char dir[256] = {};
  ASSERT_EQ(::read(fds[0], &qemu, sizeof qemu), static_cast<ssize_t>(sizeof qemu));
  ASSERT_EQ(::read(fds[0], dir, sizeof dir), static_cast<ssize_t>(sizeof dir));
  ::close(fds[0]);
  ::close(fds[1]);
  ::kill(owner, SIGKILL);
  ::waitpid(owner, nullptr, 0);
  ASSERT_GT(qemu, 0);
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    // QEMU was the owner's child: now init's; it is gone once kill(pid, 0) fails.
    gone = !process_alive(qemu) || zombie(qemu);
    if (!gone) ::usleep(10000);
  }
  EXPECT_TRUE(gone) << "QEMU " << qemu << " survived its killed owner";
  // The owner could not clean up its private directory; do it here.
  for (const char* f : {"/qtest.sock", "/halt.bin", "/stderr.txt"})
    ::unlink((std::string(dir) + f).c_str());
  ::rmdir(dir);
}

TEST(QtestClient, DeadQemuGivesAnErrorNotAHang) {
  KNIOMMU_REQUIRE_QEMU();
  const uint16_t dev[] = {0x0008};
  std::unique_ptr<QemuMachine> m;
  std::string err;
  ASSERT_EQ(QemuMachine::start(qemu_config(dev, 1), &m, &err), rcOk) << err;
  ::kill(m->qtest().pid(), SIGKILL);
  FaultRecord f;
  EXPECT_EQ(m->edu_dma(0x0008, 0x100000, 64, false, &f), rcInternalError);
  EXPECT_TRUE(m->qtest().failed());
  EXPECT_FALSE(m->qtest().error().empty());
}

TEST(QemuConfig, UnsupportedConfigurationsNamed) {
  KnSimConfig c = qemu_config(kDevices, 4);
  EXPECT_EQ(unsupported_reason(c), "");
  KnSimConfig l5 = c;
  l5.sagaw = 0xC;
  l5.mgaw = 57;
  EXPECT_NE(unsupported_reason(l5).find("5-level"), std::string::npos);
  KnSimConfig nosp = c;
  nosp.sllps = 0;
  EXPECT_NE(unsupported_reason(nosp).find("sllps"), std::string::npos);
  KnSimConfig nd = c;
  nd.nd = 2;
  EXPECT_NE(unsupported_reason(nd).find("nd"), std::string::npos);
  KnSimSystem* sys = nullptr;
  EXPECT_EQ(KnSimSystemCreate(&nosp, &sys), rcInvalidArgument);
  EXPECT_NE(kos::Hardware::last_error().find("sllps"), std::string::npos);
  EXPECT_EQ(sys, nullptr);
}

// The unchanged kos implementation drives QEMU's unit: edu reads a page the CPU wrote, writes it
// to a second page, the CPU sees it; after the grant is closed both directions fault.
class QemuSystem : public ::testing::Test {
 protected:
  void start(const KnSimConfig& c) {
    ASSERT_EQ(KnSimSystemCreate(&c, &sys_), rcOk) << kos::Hardware::last_error();
    ASSERT_EQ(KnSimProcessCreate(sys_, &pid_), rcOk);
    ASSERT_EQ(KnSimBindThread(sys_, pid_), rcOk);
  }
  void TearDown() override {
    KnSimBindThread(nullptr, 0);
    if (sys_ != nullptr) KnSimSystemDestroy(sys_);
  }
  std::uint64_t first_frame(Handle h, bool phys) {
    DmaInfo* info = nullptr;
    EXPECT_EQ(phys ? KnIoDmaGetPhysInfo(h, &info) : KnIoDmaGetInfo(h, &info), rcOk);
    const std::uint64_t v = info != nullptr ? info->descriptors[0].frame << 12 : 0;
    free(info);
    return v;
  }
  void round_trip(bool translated) {
    if (translated) {
      ASSERT_EQ(KnIommuAttachDevice(0x0100), rcOk);
    }
    Handle buf = INVALID_HANDLE, grant = INVALID_HANDLE, map = INVALID_HANDLE;
    ASSERT_EQ(KnIoDmaCreate(0, 2 * 4096, DMA_DIR_BIDIR, &buf), rcOk);
    ASSERT_EQ(KnIoDmaBegin(buf, &grant), rcOk);
    void* va = nullptr;
    ASSERT_EQ(KnIoDmaMap(buf, 0, 2 * 4096, nullptr, VMM_FLAG_READ | VMM_FLAG_WRITE, &va, &map),
              rcOk);
    const std::uint64_t base = reinterpret_cast<std::uint64_t>(va);
    const char msg[] = "bytes through QEMU's VT-d";
    ASSERT_EQ(KnSimVmWrite(sys_, pid_, base + 100, msg, sizeof msg), rcOk);
    const std::uint64_t iova = translated ? first_frame(grant, false) : first_frame(buf, true);
    std::uint8_t fault = 0xFF;
    char scratch[64] = {};  // edu ignores it: its own buffer holds the bytes
    ASSERT_EQ(KnSimDeviceDma(sys_, 0x0100, iova + 100, scratch, sizeof msg, 0, &fault), rcOk);
    ASSERT_EQ(KnSimDeviceDma(sys_, 0x0100, iova + 4096 + 8, scratch, sizeof msg, 1, &fault), rcOk);
    char back[sizeof msg] = {};
    ASSERT_EQ(KnSimVmRead(sys_, pid_, base + 4096 + 8, back, sizeof back), rcOk);
    EXPECT_STREQ(back, msg);
    if (!translated) return;
    ASSERT_EQ(KnHandleClose(map), rcOk);
    ASSERT_EQ(KnHandleClose(grant), rcOk);
    EXPECT_EQ(KnSimDeviceDma(sys_, 0x0100, iova + 100, scratch, 8, 0, &fault), rcFail);
    EXPECT_EQ(fault, 0x6);  // read of a not-present page: no read permission... per QEMU
    EXPECT_EQ(KnSimDeviceDma(sys_, 0x0100, iova + 100, scratch, 8, 1, &fault), rcFail);
    EXPECT_EQ(fault, 0x5);
  }
  KnSimSystem* sys_ = nullptr;
  KnPid pid_ = 0;
};

TEST_F(QemuSystem, GrantedBufferReachableAndRevoked) {
  KNIOMMU_REQUIRE_QEMU();
  start(qemu_config(kDevices, 4));
  round_trip(true);
}

TEST_F(QemuSystem, IommuDisabledUntranslated) {
  KNIOMMU_REQUIRE_QEMU();
  KnSimConfig c = qemu_config(kDevices, 4);
  c.iommu_enabled = 0;
  start(c);
  round_trip(false);
}

}  // namespace
}  // namespace kniommu::qemu::test
