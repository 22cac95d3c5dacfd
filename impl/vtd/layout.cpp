// Out-of-line pieces of the layout framework (names for diagnostics and printers).
#include "vtd/layout.h"

namespace kniommu::vtd::layout {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Value:
      return "value";
    case Kind::ReservedZero:
      return "reserved-zero";
    case Kind::Ignored:
      return "ignored";
  }
  return "?";
}

}  // namespace kniommu::vtd::layout
