// A shared library that loads fine but does not export kniommu_adapter_v1.
extern "C" __attribute__((visibility("default"))) int kniommu_not_an_adapter(void) { return 1; }
