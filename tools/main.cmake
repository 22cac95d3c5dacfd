# kniommu-main: the README's main job (scripts/main execs build/<preset>/tools/kniommu-main).
# Each part is compiled in when its library exists, and reported as MISSING otherwise, so the
# driver works while the tree is being built up; in the finished tree every part runs.
set(_main ${CMAKE_CURRENT_SOURCE_DIR}/main)

# The demo system (3 processes, 5 devices) captured as a snapshot with metadata.
add_library(kniommu_demo STATIC ${_main}/demo.cpp)
target_include_directories(kniommu_demo PUBLIC ${_main})
target_link_libraries(kniommu_demo PUBLIC kniommu_snapshot PRIVATE kniommu_warnings)

add_executable(kniommu-main
  ${_main}/main.cpp ${_main}/summary.cpp ${_main}/conform_part.cpp ${_main}/proofs_part.cpp
  ${_main}/audit_part.cpp ${_main}/linux_part.cpp)
target_compile_definitions(kniommu-main PRIVATE
  KNIOMMU_BINARY_DIR="${CMAKE_BINARY_DIR}" KNIOMMU_CTEST="${CMAKE_CTEST_COMMAND}"
  KNIOMMU_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(kniommu-main PRIVATE kniommu_demo kniommu_audit_lib kniommu_warnings)
if(TARGET kniommu_conform_cli)
  target_compile_definitions(kniommu-main PRIVATE KNIOMMU_HAVE_CONFORMANCE=1)
  target_link_libraries(kniommu-main PRIVATE kniommu_conform_cli kniommu_builtin_adapter)
endif()

kniommu_gtest(demo_tests LABEL unit
  SOURCES ${_main}/tests/demo_tests.cpp
  LIBS kniommu_demo kniommu_audit_lib)

# The driver itself, part by part (the proofs part is `ctest -L proofs`, run by the family itself).
kniommu_test(main_job.audit LABEL unit
  COMMAND kniommu-main --only audit --out ${CMAKE_CURRENT_BINARY_DIR}/main_job_audit)
if(TARGET kniommu_conform_cli)
  kniommu_test(main_job.conformance LABEL refinement COST 34
    COMMAND kniommu-main --only conformance --cases 20 --seed 1 --out ${CMAKE_CURRENT_BINARY_DIR}/main_job_conf)
endif()

# The real-system part needs kniommu-audit (it captures over QMP). Its boot is exercised by hand
# and by `scripts/main`; CI keeps to the two boots of the `linux` label, so here only the skip
# path runs: without the guest packages the part is SKIPPED and the job still passes.
add_dependencies(kniommu-main kniommu-audit)
kniommu_test(main_job.linux_skips_without_guest LABEL unit
  COMMAND ${CMAKE_COMMAND} -E env KNIOMMU_GUEST_CACHE=${CMAKE_CURRENT_BINARY_DIR}/no-guest
          $<TARGET_FILE:kniommu-main> --only linux --out ${CMAKE_CURRENT_BINARY_DIR}/main_job_linux_skip)
set_tests_properties(main_job.linux_skips_without_guest PROPERTIES
  PASS_REGULAR_EXPRESSION "audit \\(VM\\) +SKIPPED .*SKIPPED: .*overall: PASS")
