# Helpers that keep test registration uniform: every test carries exactly one family label
# (unit, model, spec, refinement, proofs; package for the build-system checks: configure messages
# and the installed CMake package), so `ctest -L <family>` runs one family.

# kniommu_gtest(<target> LABEL <label> SOURCES ... LIBS ...)
function(kniommu_gtest target)
  cmake_parse_arguments(A "" "LABEL;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  add_executable(${target} ${A_SOURCES})
  target_link_libraries(${target} PRIVATE ${A_LIBS} GTest::gtest_main GTest::gmock kniommu_warnings)
  # gtest.h alone takes about 1.9 s of a test file's 5-8 s to compile: a target of three or more
  # files parses it once. (The tsan preset builds without precompiled headers: a file of
  # hw_tests or kos_tests that forgets to include what it uses still fails to compile in CI.)
  list(LENGTH A_SOURCES n)
  if(n GREATER 2)
    target_precompile_headers(${target} PRIVATE <gtest/gtest.h>)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  gtest_discover_tests(${target}
    PROPERTIES LABELS ${A_LABEL} TIMEOUT ${A_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()

# kniommu_test(<name> LABEL <label> [TIMEOUT s] [COST s] COMMAND ...): a plain command test.
# COST: about how many seconds the test runs in the dev preset. CTest starts tests in descending
# order of cost, and a clean clone (CI) has no cost data from earlier runs, so without it the
# longest tests, declared late, would start last and run alone at the end of a parallel run.
function(kniommu_test name)
  cmake_parse_arguments(A "" "LABEL;TIMEOUT;COST" "COMMAND" ${ARGN})
  add_test(NAME ${name} COMMAND ${A_COMMAND})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${A_LABEL} TIMEOUT ${A_TIMEOUT})
  if(A_COST)
    set_tests_properties(${name} PROPERTIES COST ${A_COST})
  endif()
endfunction()
