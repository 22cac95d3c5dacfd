/* The built-in conformance adapter: kniommu's own implementation (impl/kos over the emulated
 * hardware of impl/hw) behind the adapter ABI of kniommu/adapter.h. */
#ifndef KNIOMMU_BUILTIN_ADAPTER_H
#define KNIOMMU_BUILTIN_ADAPTER_H

#include "kniommu/adapter.h"

#ifdef __cplusplus
extern "C" {
#endif

const KnAdapterV1* kniommu_builtin_adapter(void);

#ifdef __cplusplus
}
#endif
#endif
