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

# kniommu_test(<name> LABEL <label> COMMAND ...): a plain command test.
function(kniommu_test name)
  cmake_parse_arguments(A "" "LABEL;TIMEOUT" "COMMAND" ${ARGN})
  add_test(NAME ${name} COMMAND ${A_COMMAND})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${A_LABEL} TIMEOUT ${A_TIMEOUT})
endfunction()
