// Compiled by the architecture.*_include tests (cmake/Headers.cmake) with one library's include
// directories: includes the header named on the command line and nothing else.
#include KNIOMMU_PROBE_HEADER
