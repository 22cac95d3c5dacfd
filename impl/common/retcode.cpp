#include "kniommu/retcode.h"

extern "C" const char* KnRetcodeName(Retcode rc) {
  switch (rc) {
    case rcOk:
      return "rcOk";
    case rcInvalidArgument:
      return "rcInvalidArgument";
    case rcOutOfMemory:
      return "rcOutOfMemory";
    case rcInternalError:
      return "rcInternalError";
    case rcFail:
      return "rcFail";
    case rcNoCapability:
      return "rcNoCapability";
    case rcNotReady:
      return "rcNotReady";
    case rcUnimplemented:
      return "rcUnimplemented";
    case rcBusy:
      return "rcBusy";
    case rcResourceNotFound:
      return "rcResourceNotFound";
    case rcTimeout:
      return "rcTimeout";
    case rcAlreadyExists:
      return "rcAlreadyExists";
    case rcInvalidOperation:
      return "rcInvalidOperation";
    case rcHandleRevoked:
      return "rcHandleRevoked";
    case rcQuotaExceeded:
      return "rcQuotaExceeded";
    case rcDeviceNotFound:
      return "rcDeviceNotFound";
    default:
      return "rc?";
  }
}
