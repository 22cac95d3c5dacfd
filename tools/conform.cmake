# kniommu-conform: the conformance suite (refinement_tests/, library kniommu_conformance) as a
# tool, for the built-in implementation or an adapter library loaded with dlopen.
if(NOT TARGET kniommu_conformance OR NOT TARGET kniommu_builtin_adapter)
  message(STATUS "kniommu-conform: conformance library not available yet; not built")
  return()
endif()
set(_conform ${CMAKE_CURRENT_SOURCE_DIR}/conform)

# Shared with the main-job driver (tools/main): progress bar, result report, JUnit, adapter loading.
add_library(kniommu_conform_cli STATIC
  ${_conform}/adapter_loader.cpp
  ${_conform}/coverage_table.cpp
  ${_conform}/junit.cpp
  ${_conform}/merge.cpp
  ${_conform}/merge_input.cpp
  ${_conform}/options.cpp
  ${_conform}/progress_bar.cpp
  ${_conform}/report.cpp
  ${_conform}/run_json.cpp)
target_include_directories(kniommu_conform_cli PUBLIC ${_conform})
target_link_libraries(kniommu_conform_cli PUBLIC kniommu_conformance ${CMAKE_DL_LIBS} PRIVATE kniommu_tool_io kniommu_warnings)

add_executable(kniommu-conform ${_conform}/main.cpp)
target_link_libraries(kniommu-conform PRIVATE kniommu_conform_cli kniommu_builtin_adapter kniommu_tool_io kniommu_warnings)

# The per-configuration CTest entries (refinement_tests/CMakeLists.txt, from hw_configs.def) name
# exactly the configurations the suite compiled in; the twin with one name dropped must fail.
get_property(_hw_configs GLOBAL PROPERTY KNIOMMU_HW_CONFIGS)
list(JOIN _hw_configs "|" _configs)
list(SUBLIST _hw_configs 1 -1 _configs_short)
list(JOIN _configs_short "|" _configs_short)
foreach(_case IN ITEMS listed_once listed_once_teeth)
  set(_expected ${_configs})
  if(_case STREQUAL listed_once_teeth)
    set(_expected ${_configs_short})
  endif()
  kniommu_test(conform.configs_${_case} LABEL unit TIMEOUT 60
    COMMAND ${CMAKE_COMMAND} -DTOOL=$<TARGET_FILE:kniommu-conform> "-DEXPECTED=${_expected}"
            -P ${PROJECT_SOURCE_DIR}/cmake/CheckConfigList.cmake)
endforeach()
set_tests_properties(conform.configs_listed_once_teeth PROPERTIES
  PASS_REGULAR_EXPRESSION "configuration lists differ")

if(TARGET kniommu_example_adapter)
  # A broken adapter (the example adapter with an isolation bug injected) must be caught.
  add_library(kniommu_broken_adapter SHARED ${_conform}/tests/broken_adapter.cpp)
  target_compile_definitions(kniommu_broken_adapter PRIVATE
    KNIOMMU_EXAMPLE_ADAPTER="$<TARGET_FILE:kniommu_example_adapter>")
  target_link_libraries(kniommu_broken_adapter PRIVATE kniommu_adapter_abi ${CMAKE_DL_LIBS} kniommu_warnings)
  add_dependencies(kniommu_broken_adapter kniommu_example_adapter)

  kniommu_test(conform.broken_adapter_caught LABEL refinement TIMEOUT 600
    COMMAND ${_conform}/tests/expect_counterexample.sh $<TARGET_FILE:kniommu-conform>
            $<TARGET_FILE:kniommu_broken_adapter> ${CMAKE_CURRENT_BINARY_DIR}/conform_broken)
  # Crash isolation (issue 15): adapters that segfault, abort or hang in a case.
  foreach(mode segv abort hang)
    string(TOUPPER ${mode} _mode)
    add_library(kniommu_crash_${mode}_adapter SHARED ${_conform}/tests/crashing_adapter.cpp)
    target_compile_definitions(kniommu_crash_${mode}_adapter PRIVATE
      KNIOMMU_EXAMPLE_ADAPTER="$<TARGET_FILE:kniommu_example_adapter>"
      KNIOMMU_CRASH_MODE=KNIOMMU_CRASH_${_mode})
    target_link_libraries(kniommu_crash_${mode}_adapter PRIVATE kniommu_adapter_abi ${CMAKE_DL_LIBS} kniommu_warnings)
    add_dependencies(kniommu_crash_${mode}_adapter kniommu_example_adapter)
    set(_cost 5)
    if(mode STREQUAL hang)
      set(_cost 65)  # about 45 hangs of 1 s each (expect_crash.sh)
    endif()
    kniommu_test(conform.crash_isolated.${mode} LABEL refinement TIMEOUT 900 COST ${_cost}
      COMMAND ${_conform}/tests/expect_crash.sh $<TARGET_FILE:kniommu-conform>
              $<TARGET_FILE:kniommu_crash_${mode}_adapter> ${mode}
              ${CMAKE_CURRENT_BINARY_DIR}/conform_crash_${mode})
    # Under the sanitizer presets the crash must stay a signal: ASan would otherwise catch
    # SIGSEGV and exit with its own report.
    set_tests_properties(conform.crash_isolated.${mode} PROPERTIES
      ENVIRONMENT "ASAN_OPTIONS=handle_segv=0")
  endforeach()

  # Optimistic isolation: same results as per case, fallback on a bad report, watchdog on a hang.
  kniommu_test(conform.optimistic_isolation LABEL refinement TIMEOUT 900 COST 14
    COMMAND ${_conform}/tests/expect_optimistic.sh $<TARGET_FILE:kniommu-conform>
            $<TARGET_FILE:kniommu_crash_hang_adapter> ${CMAKE_CURRENT_BINARY_DIR}/conform_optimistic)

  # Bad input to kniommu-audit, kniommu-conform --replay and kniommu-conform merge: exit 2.
  kniommu_test(conform.bad_input LABEL unit TIMEOUT 600
    COMMAND ${_conform}/tests/bad_input_test.sh $<TARGET_FILE:kniommu-audit>
            $<TARGET_FILE:kniommu-conform> $<TARGET_FILE:kniommu_broken_adapter>
            ${CMAKE_CURRENT_BINARY_DIR}/conform_bad_input)

  # Shards and their union (kniommu-conform merge), failures with replay files, --require-coverage.
  kniommu_test(conform.merge_shards LABEL refinement TIMEOUT 600
    COMMAND ${_conform}/tests/merge_test.sh $<TARGET_FILE:kniommu-conform>
            $<TARGET_FILE:kniommu_broken_adapter> ${CMAKE_CURRENT_BINARY_DIR}/conform_merge)

  # The example adapter, loaded through dlopen like a third party's, conforms.
  kniommu_test(conform.example_adapter_conforms LABEL refinement TIMEOUT 600
    COMMAND kniommu-conform --adapter $<TARGET_FILE:kniommu_example_adapter> --config l4_sp,l3_nosp
            --seed 5 --cases 40 --no-progress)
endif()

# The merge reader under libFuzzer (clang++), seeded with a real shard's JSON and JUnit.
kniommu_test(merge_fuzz LABEL unit TIMEOUT 300 COST 32
  COMMAND ${PROJECT_SOURCE_DIR}/tools/audit/fuzz/run_fuzz_merge.sh $<TARGET_FILE:kniommu-conform>
          ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/merge_fuzz ${KNIOMMU_FUZZ_SECONDS})

kniommu_gtest(conform_cli_tests LABEL unit
  SOURCES ${_conform}/tests/cli_tests.cpp ${_conform}/tests/run_files_tests.cpp
  LIBS kniommu_conform_cli)
# A loadable library that is not an adapter, for the loader's error path.
add_library(conform_not_an_adapter SHARED ${_conform}/tests/not_an_adapter.cpp)
target_link_libraries(conform_not_an_adapter PRIVATE kniommu_warnings)
target_compile_definitions(conform_cli_tests PRIVATE
  NOT_AN_ADAPTER="$<TARGET_FILE:conform_not_an_adapter>")
add_dependencies(conform_cli_tests conform_not_an_adapter)

# Optimistic isolation: the child's report wire format, the fallback decision and the watchdog.
kniommu_gtest(conform_isolation_tests LABEL unit
  SOURCES ${PROJECT_SOURCE_DIR}/refinement_tests/tests/config_report_test.cpp
  LIBS kniommu_conformance)
target_include_directories(conform_isolation_tests PRIVATE ${PROJECT_SOURCE_DIR}/refinement_tests/src)
