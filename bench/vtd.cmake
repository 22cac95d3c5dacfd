# Page-table speed of the driver-side VT-d code (impl/vtd) over the simulated physical memory.
add_executable(vtd_bench ${CMAKE_CURRENT_LIST_DIR}/vtd_bench.cpp)
target_link_libraries(vtd_bench PRIVATE kniommu_vtd kniommu_hw benchmark::benchmark kniommu_warnings)
