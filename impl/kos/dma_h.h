// kniommu/dma.h declares DmaFrameDescriptor with an anonymous struct (as the KasperskyOS header
// does); that is a pedantic warning in ISO C++, so C++ sources include it through this header.
#pragma once
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include "kniommu/dma.h"
#pragma GCC diagnostic pop
