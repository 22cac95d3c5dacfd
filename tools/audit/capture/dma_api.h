// kniommu/dma.h declares DmaFrameDescriptor with an anonymous struct (as the KasperskyOS header
// does), a pedantic warning in ISO C++; the tools include it through this header.
#pragma once
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include "kniommu/dma.h"
#pragma GCC diagnostic pop
