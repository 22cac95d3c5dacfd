# cmake -DTOOL=<kniommu-conform> -DEXPECTED="a|b|c" -P CheckConfigList.cmake
# Passes iff the configurations the suite compiled in (TOOL --list-configs, first column) are
# EXPECTED, in order: the CTest entries registered from refinement_tests/src/hw_configs.def name
# exactly the configurations the suite runs.
execute_process(COMMAND ${TOOL} --list-configs OUTPUT_VARIABLE out RESULT_VARIABLE rc TIMEOUT 60)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${TOOL} --list-configs failed: ${rc}")
endif()
string(REGEX MATCHALL "(^|\n)[a-z0-9_]+" names "${out}")
list(TRANSFORM names STRIP)
string(REPLACE "|" ";" expected "${EXPECTED}")
if(NOT names STREQUAL expected)
  message(FATAL_ERROR "configuration lists differ: the suite has [${names}], CTest registered [${expected}]")
endif()
message(STATUS "the suite and CTest list the same configurations: ${names}")
