#include "demo.h"

#include <array>
#include <vector>

#include "capture/capture.h"
#include "capture/dma_api.h"
#include "capture/metadata.h"
#include "kniommu/iommu_api.h"
#include "kniommu/sim.h"

namespace kniommu::demo {
namespace {

constexpr std::uint16_t kNic = 0x0008;    // 00:01.0
constexpr std::uint16_t kDisk0 = 0x0010;  // 00:02.0
constexpr std::uint16_t kDisk1 = 0x0011;  // 00:02.1
constexpr std::uint16_t kGpu = 0x0018;    // 00:03.0
constexpr std::uint16_t kUsb = 0x0020;    // 00:04.0
constexpr std::array<std::uint16_t, 5> kDevices = {kNic, kDisk0, kDisk1, kGpu, kUsb};

// One process of the demo: what it did, so the metadata can be written afterwards.
struct Driver {
  const char* name;
  KnPid pid = 0;
  std::vector<std::pair<std::uint16_t, snapshot::DomainKind>> devices;
  std::vector<Handle> buffers;
};

// Runs the calls in order and stops at the first failure, remembering which call it was.
class Steps {
 public:
  explicit Steps(std::string& error) : error_(error) {}
  bool ok() const { return rc_ == rcOk; }
  Retcode rc() const { return rc_; }
  void operator()(const char* what, Retcode rc) {
    if (rc_ != rcOk) return;
    rc_ = rc;
    if (rc != rcOk) error_ = std::string(what) + " failed: " + KnRetcodeName(rc);
  }

 private:
  std::string& error_;
  Retcode rc_ = rcOk;
};

void net_driver(KnSimSystem* sys, Driver& d, Steps& step) {
  step("KnSimBindThread", KnSimBindThread(sys, d.pid));
  step("KnIommuAttachDevice(nic)", KnIommuAttachDevice(kNic));
  d.devices.push_back({kNic, snapshot::DomainKind::kAutomatic});
  Handle rx = INVALID_HANDLE, tx = INVALID_HANDLE, grant = INVALID_HANDLE;
  step("KnIoDmaCreate(rx)", KnIoDmaCreate(0, 16 * 1024, DMA_DIR_FROM_DEVICE, &rx));
  step("KnIoDmaCreate(tx)", KnIoDmaCreate(0, 8 * 1024, DMA_DIR_TO_DEVICE, &tx));
  step("KnIoDmaBegin(rx)", KnIoDmaBegin(rx, &grant));
  step("KnIoDmaBegin(tx)", KnIoDmaBegin(tx, &grant));
  d.buffers = {rx, tx};
}

void storage_driver(KnSimSystem* sys, Driver& d, Steps& step) {
  step("KnSimBindThread", KnSimBindThread(sys, d.pid));
  Handle domain = INVALID_HANDLE, io = INVALID_HANDLE, grant = INVALID_HANDLE;
  step("KnIommuCreateDomain", KnIommuCreateDomain(&domain));
  step("KnIommuAttachDeviceToDomain(disk0)", KnIommuAttachDeviceToDomain(kDisk0, domain));
  step("KnIommuAttachDeviceToDomain(disk1)", KnIommuAttachDeviceToDomain(kDisk1, domain));
  d.devices = {{kDisk0, snapshot::DomainKind::kCreated}, {kDisk1, snapshot::DomainKind::kCreated}};
  step("KnIoDmaCreateContinuous(io)", KnIoDmaCreateContinuous(64 * 1024, DMA_DIR_BIDIR, &io));
  step("KnIoDmaBeginEx(io)", KnIoDmaBeginEx(io, domain, &grant));
  d.buffers = {io};
}

void gpu_driver(KnSimSystem* sys, Driver& d, Steps& step) {
  step("KnSimBindThread", KnSimBindThread(sys, d.pid));
  Handle usb_domain = INVALID_HANDLE, fb = INVALID_HANDLE, cmd = INVALID_HANDLE,
         grant = INVALID_HANDLE;
  step("KnIommuAttachDevice(gpu)", KnIommuAttachDevice(kGpu));
  step("KnIommuCreateDomain", KnIommuCreateDomain(&usb_domain));
  step("KnIommuAttachDeviceToDomain(usb)", KnIommuAttachDeviceToDomain(kUsb, usb_domain));
  d.devices = {{kGpu, snapshot::DomainKind::kAutomatic}, {kUsb, snapshot::DomainKind::kCreated}};
  // The frame buffer is granted to both of the process's domains; the command ring is a 2 MiB
  // contiguous block, which the implementation may map with a superpage.
  step("KnIoDmaCreate(fb)", KnIoDmaCreate(1, 32 * 1024, DMA_DIR_BIDIR, &fb));
  step("KnIoDmaBegin(fb)", KnIoDmaBegin(fb, &grant));
  step("KnIoDmaBeginEx(fb)", KnIoDmaBeginEx(fb, usb_domain, &grant));
  step("KnIoDmaCreateContinuous(cmd)",
       KnIoDmaCreateContinuous(2 * 1024 * 1024, DMA_DIR_TO_DEVICE, &cmd));
  step("KnIoDmaBegin(cmd)", KnIoDmaBegin(cmd, &grant));
  d.buffers = {fb, cmd};
}

// Metadata from what each process knows: the DIDs its devices ended up in, its buffers' frames.
void describe(KnSimSystem* sys, std::vector<Driver>& drivers, Demo& out, Steps& step) {
  for (auto& d : drivers) {
    out.snapshot.processes.push_back({d.pid, d.name});
    for (const auto& [bdf, kind] : d.devices) {
      const auto did = snapshot::attached_did(out.snapshot, bdf);
      if (!did) {
        step("attached_did", rcInternalError);
        return;
      }
      bool known = false;
      for (const auto& dom : out.snapshot.domains) known = known || dom.did == *did;
      if (!known) out.snapshot.domains.push_back({d.pid, *did, kind});
    }
    step("KnSimBindThread", KnSimBindThread(sys, d.pid));
    for (const Handle rid : d.buffers) {
      snapshot::Buffer b;
      step("KnIoDmaGetPhysInfo", snapshot::describe_buffer(d.pid, rid, b));
      if (step.ok()) out.snapshot.buffers.push_back(std::move(b));
    }
  }
}

}  // namespace

Retcode build_demo(Demo& out, std::string& error) {
  KnSimConfig config;
  KnSimDefaultConfig(&config);
  config.devices = kDevices.data();
  config.device_count = kDevices.size();
  KnSimSystem* sys = nullptr;
  if (const Retcode rc = KnSimSystemCreate(&config, &sys); rc != rcOk) {
    error = std::string("KnSimSystemCreate failed: ") + KnRetcodeName(rc);
    return rc;
  }
  Steps step(error);
  std::vector<Driver> drivers = {
      {"net-driver", 0, {}, {}}, {"storage-driver", 0, {}, {}}, {"gpu-driver", 0, {}, {}}};
  for (auto& d : drivers) step("KnSimProcessCreate", KnSimProcessCreate(sys, &d.pid));
  net_driver(sys, drivers[0], step);
  storage_driver(sys, drivers[1], step);
  gpu_driver(sys, drivers[2], step);
  step("capture", snapshot::capture(sys, out.snapshot));
  if (step.ok()) describe(sys, drivers, out, step);
  KnSimBindThread(sys, 0);
  KnSimSystemDestroy(sys);
  out.description =
      "3 processes: net-driver (NIC 00:01.0 in its automatic domain; rx buffer FROM_DEVICE, tx "
      "TO_DEVICE), "
      "storage-driver (disks 00:02.0 and 00:02.1 in a created domain; 64 KiB contiguous BIDIR "
      "buffer), "
      "gpu-driver (GPU 00:03.0 automatic, USB 00:04.0 in a created domain; frame buffer granted to "
      "both, "
      "2 MiB contiguous command ring TO_DEVICE)";
  return step.rc();
}

}  // namespace kniommu::demo
