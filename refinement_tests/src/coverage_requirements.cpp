#include "coverage_requirements.h"

#include <algorithm>

namespace kniommu::conformance::coverage {
namespace {

constexpr uint32_t kSllps2M = 0x1, kSllps1G = 0x2;

const std::string kInval = "rcInvalidArgument", kOom = "rcOutOfMemory", kOk = "rcOk",
                  kRevoked = "rcHandleRevoked";

std::vector<std::string> with_handle_checks(std::vector<std::string> v) {
  v.insert(v.begin(), {kInval, kRevoked});
  return v;
}

// Why a documented Retcode of `call` cannot occur on `cfg` ("" = it can).
std::string retcode_unreachable(const HwConfig& cfg, const std::string& call,
                                const std::string& rc) {
  // The suite gives the model "out of memory" only when the implementation's rcOutOfMemory is
  // plausible (a buffer larger than the free memory). Real exhaustion needs more live domains
  // than DIDs (2^(4+2*ND)-1 >= 255 here) or hundreds of MiB of buffers: beyond one case. The
  // model's OOM branches have unit tests (model/model_tests.cpp), allocation failures have the
  // fail-nth tests of impl/.
  if (rc == kOom)
    return "exhaustion of DIDs, frames or handle slots is beyond one case of --max-length "
           "commands (model unit tests and fail-nth allocation tests cover it)";
  if (cfg.sim.iommu_enabled != 0) return "";
  const bool attach_family = call == "KnIommuAttachDevice" || call == "KnIommuDetachDevice" ||
                             call == "KnIommuAttachDeviceToDomain" ||
                             call == "KnIommuDetachDeviceFromDomain";
  if (attach_family && rc != kOk && rc != kInval && rc != kRevoked)
    return "IOMMU disabled: the call returns rcOk (no effect) before the device checks";
  if (call == "KnIoDmaBegin" && rc == "rcResourceNotFound")
    return "IOMMU disabled: Begin needs no automatic domain";
  return "";
}

}  // namespace

const std::vector<DocumentedCall>& documented_retcodes() {
  static const std::vector<DocumentedCall> table = [] {
    std::vector<DocumentedCall> t = {
        {"KnIommuAttachDevice", {kOk, "rcDeviceNotFound", "rcAlreadyExists", "rcBusy", kOom}},
        {"KnIommuDetachDevice", {kOk, "rcDeviceNotFound", "rcResourceNotFound"}},
        {"KnIommuCreateDomain", {kInval, kOom, kOk}},
        {"KnIommuAttachDeviceToDomain",
         with_handle_checks({kOk, "rcDeviceNotFound", "rcAlreadyExists", "rcBusy", kOom})},
        {"KnIommuDetachDeviceFromDomain",
         with_handle_checks({kOk, "rcDeviceNotFound", "rcResourceNotFound"})},
        {"KnIoDmaCreate", {kInval, kOom, kOk}},
        {"KnIoDmaCreateContinuous", {kInval, kOom, kOk}},
        {"KnIoDmaMap", with_handle_checks({kOom, kOk})},
        {"KnIoDmaBegin", with_handle_checks({"rcResourceNotFound", "rcAlreadyExists", kOom, kOk})},
        {"KnIoDmaBeginEx", with_handle_checks({"rcAlreadyExists", kOom, kOk})},
        {"KnIoDmaGetInfo", with_handle_checks({kOom, kOk})},
        {"KnIoDmaGetPhysInfo", with_handle_checks({kOom, kOk})},
        {"KnHandleClose", {kInval, kOk}},
        {"KnIoClose", {kInval, kOk}},
    };
    for (DocumentedCall& c : t) {  // one entry per Retcode, in a stable order
      std::sort(c.retcodes.begin(), c.retcodes.end());
      c.retcodes.erase(std::unique(c.retcodes.begin(), c.retcodes.end()), c.retcodes.end());
    }
    return t;
  }();
  return table;
}

std::vector<Requirement> requirements(const HwConfig& cfg) {
  std::vector<Requirement> out;
  for (const DocumentedCall& c : documented_retcodes())
    for (const std::string& rc : c.retcodes)
      out.push_back({"call:" + c.call + ":" + rc, retcode_unreachable(cfg, c.call, rc)});

  const bool on = cfg.sim.iommu_enabled != 0;
  const std::string off = on ? "" : "IOMMU disabled: no remapping, every device reaches all memory";
  for (const char* k : {"dma:fault:0x2", "dma:fault:0x4", "dma:fault:0x5", "dma:fault:0x6"})
    out.push_back({k, off});
  out.push_back({"dma:ok:read", ""});
  out.push_back({"dma:ok:write", ""});

  const auto leaf = [&](const char* size, bool supported, const char* why) {
    const std::string r = !on ? off : supported ? "" : why;
    out.push_back({std::string("leaf:mapped:") + size, r});
    out.push_back({std::string("leaf:unmapped:") + size, r});
  };
  leaf("4K", true, "");
  leaf("2M", (cfg.sim.sllps & kSllps2M) != 0, "CAP.SLLPS does not advertise 2 MiB pages");
  leaf("1G", (cfg.sim.sllps & kSllps1G) != 0, "CAP.SLLPS does not advertise 1 GiB pages");

  for (const char* k : {"inv:context:global", "inv:context:device", "inv:iotlb:global",
                        "inv:iotlb:domain", "inv:wait"})
    out.push_back({k, off});
  // Page-selective invalidation with every address mask up to MAMV, as far as a 2 MiB block
  // (AM=9): larger masks need grants of that size straddling alignment boundaries; they are
  // counted when they occur but not required.
  constexpr uint32_t kLargestRequiredAm = 9;
  for (uint32_t am = 0; am <= std::min(cfg.sim.mamv, kLargestRequiredAm); ++am)
    out.push_back({"inv:iotlb:page:am=" + std::to_string(am), off});

  const std::string no_cm =
      !on ? off
      : cfg.sim.caching_mode == 0
          ? "CAP.CM=0: not-present entries are never cached, granting needs no invalidation"
          : "";
  for (const char* k :
       {"cm1:KnIommuAttachDevice:context", "cm1:KnIommuAttachDeviceToDomain:context",
        "cm1:KnIoDmaBegin:iotlb", "cm1:KnIoDmaBeginEx:iotlb"})
    out.push_back({k, no_cm});

  out.push_back({"exit:live-objects", ""});
  out.push_back({"exit:attached-devices", on ? "" : "IOMMU disabled: attaching has no effect"});
  return out;
}

}  // namespace kniommu::conformance::coverage
