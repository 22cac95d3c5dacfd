/* Handle: a process-local name for a kernel object (handle/handletype.h). Values are indices into
 * the calling process's handle table: the smallest free value >= 1 is handed out (deterministic,
 * so the model and the implementation agree on handle values; docs/semantics.md §Handles). */
#ifndef KNIOMMU_HANDLE_H
#define KNIOMMU_HANDLE_H

#include <stdint.h>
#include "kniommu/retcode.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t Handle;
#define INVALID_HANDLE 0xFFFFFFFFu

/* Closes any handle (domain, DMA buffer, grant from KnIoDmaBegin*, mapping). Closing the last
 * handle of an object destroys it; see docs/semantics.md for what each destruction revokes. */
Retcode KnHandleClose(Handle handle);

#ifdef __cplusplus
}
#endif
#endif
