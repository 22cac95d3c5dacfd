# Speed of the API over VT-d (impl/kos). Targets: attach + begin + close + detach <= 5 us;
# begin of a 2 MiB buffer <= 2 us; 65,535 domains created and attached (the ND=6 maximum: DID 0 is
# reserved) <= 1 s.
add_executable(kos_bench ${CMAKE_CURRENT_LIST_DIR}/kos_bench.cpp)
target_link_libraries(kos_bench PRIVATE kniommu_kos benchmark::benchmark kniommu_warnings)
