/* Retcode: the KasperskyOS status type (rtl/retcode.h). rcOk is 0; every error has the severity
 * bit (bit 31) set, so errors are negative int32 values, with a space and a code below it
 * (see docs/semantics.md §Retcodes). Only the generic codes kniommu returns are defined. */
#ifndef KNIOMMU_RETCODE_H
#define KNIOMMU_RETCODE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t Retcode;

/* RC_SPACE_GENERAL = 1. Written as INT32_MIN + (space << 16) + code: a constant expression
 * without overflow in both C and C++. */
#define KN_RC_GENERAL(code) (-2147483647 - 1 + (1 << 16) + (code))

enum {
  rcOk = 0,
  rcInvalidArgument = KN_RC_GENERAL(1),
  rcOutOfMemory = KN_RC_GENERAL(3),
  rcInternalError = KN_RC_GENERAL(5),
  rcFail = KN_RC_GENERAL(12),
  rcNoCapability = KN_RC_GENERAL(13),
  rcNotReady = KN_RC_GENERAL(14),
  rcUnimplemented = KN_RC_GENERAL(15),
  rcBusy = KN_RC_GENERAL(17),
  rcResourceNotFound = KN_RC_GENERAL(18),
  rcTimeout = KN_RC_GENERAL(19),
  rcAlreadyExists = KN_RC_GENERAL(24),
  rcInvalidOperation = KN_RC_GENERAL(25),
  rcHandleRevoked = KN_RC_GENERAL(26),
  rcQuotaExceeded = KN_RC_GENERAL(27),
  rcDeviceNotFound = KN_RC_GENERAL(28)
};

/* Name of a Retcode for messages ("rcBusy"); "rc?" for values kniommu never returns. */
const char* KnRetcodeName(Retcode rc);

#ifdef __cplusplus
}
#endif
#endif
