# Cost of the QEMU judge (docs/qemu-backend.md): qtest round trip, pipelined writes, QEMU start,
# one device-DMA probe through QEMU's VT-d, one conformance case on QEMU.
if(TARGET kniommu_qemu AND TARGET kniommu_conformance AND TARGET kniommu_builtin_adapter)
  add_executable(qemu_bench ${CMAKE_CURRENT_LIST_DIR}/qemu_bench.cpp)
  target_link_libraries(qemu_bench PRIVATE kniommu_qemu kniommu_kos kniommu_conformance
    kniommu_builtin_adapter benchmark::benchmark kniommu_warnings)
endif()
