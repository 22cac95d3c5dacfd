// The emulator names register and entry bits only through the shared layouts (vtd/formats.h and the
// field helpers of vtd/layout.h), so it never re-types a bit position the layouts already define.
#pragma once

#include "vtd/formats.h"

namespace kniommu::hw {

using vtd::layout::field_of;
using vtd::layout::mask_of;
using vtd::layout::with_field;

}  // namespace kniommu::hw
