# Run with `cmake -DSOURCE_DIR=... -DWORK_DIR=... -P CheckDependencyMessages.cmake`.
# For each dependency, configures the project with that dependency hidden and checks that
# configure fails AND names the Debian package to install. Registered as the CTest
# `configure_names_missing_package` (label unit).
set(cases
  "GTest|-DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON|libgtest-dev"
  "rapidcheck|-DCMAKE_DISABLE_FIND_PACKAGE_rapidcheck=ON|librapidcheck-dev"
  "Boost|-DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON|libboost-dev"
  "benchmark|-DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON|libbenchmark-dev"
  "Z3|-DKNIOMMU_TEST_HIDE_Z3=ON|libz3-dev")
set(failures 0)
foreach(case IN LISTS cases)
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 name)
  list(GET parts 1 flag)
  list(GET parts 2 package)
  set(dir "${WORK_DIR}/${name}")
  file(REMOVE_RECURSE "${dir}")
  execute_process(
    COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${dir} -G Ninja ${flag} -DKNIOMMU_BUILD_BENCH=ON
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  file(REMOVE_RECURSE "${dir}")
  if(rc EQUAL 0)
    message(SEND_ERROR "hiding ${name}: configure succeeded, expected failure")
    math(EXPR failures "${failures}+1")
  elseif(NOT "${out}${err}" MATCHES "${package}")
    message(SEND_ERROR "hiding ${name}: configure failed without naming '${package}':\n${err}")
    math(EXPR failures "${failures}+1")
  else()
    message(STATUS "hiding ${name}: configure fails naming ${package} - ok")
  endif()
endforeach()
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} dependency message check(s) failed")
endif()
