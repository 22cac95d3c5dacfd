# Speed of the emulated remapping unit (impl/hw): IOTLB hits and IOTLB misses with a
# cache-resident walk. Targets: hit <= 20 ns, 4-level miss <= 100 ns per translation.
add_executable(hw_bench ${CMAKE_CURRENT_LIST_DIR}/hw_bench.cpp)
target_link_libraries(hw_bench PRIVATE kniommu_hw benchmark::benchmark kniommu_warnings)
