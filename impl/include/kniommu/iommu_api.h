/* The IOMMU isolation API (coresrv/iommu/iommu_api.h) as kniommu implements it.
 * BDF: (bus << 8) | (device << 3) | function, PCI segment 0. Contract: docs/semantics.md. */
#ifndef KNIOMMU_IOMMU_API_H
#define KNIOMMU_IOMMU_API_H

#include <stdint.h>
#include "kniommu/handle.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Attach / detach to the calling process's automatic domain (created by the first successful
 * KnIommuAttachDevice, lives until the process exits). IOMMU disabled: rcOk, no effect. */
Retcode KnIommuAttachDevice(uint16_t bdf);
Retcode KnIommuDetachDevice(uint16_t bdf);

/* A further domain owned by the calling process; closing its last handle destroys it. */
Retcode KnIommuCreateDomain(Handle* outDomain);
/* Parameter order follows the kernel method AttachToDomain: bdf, then domain. */
Retcode KnIommuAttachDeviceToDomain(uint16_t bdf, Handle domain);
Retcode KnIommuDetachDeviceFromDomain(uint16_t bdf, Handle domain);

#ifdef __cplusplus
}
#endif
#endif
