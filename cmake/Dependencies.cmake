# Finds every dependency the ordinary way (find_package / pkg-config, Debian's package layouts) and fails at
# configure time naming the Debian package that provides it. scripts/bootstrap installs them all.

macro(kniommu_require found package what)
  if(NOT ${found})
    message(FATAL_ERROR "kniommu: ${what} not found. Install the Debian package '${package}' "
                        "(or run scripts/bootstrap).")
  endif()
endmacro()

find_package(Threads REQUIRED)

find_package(GTest 1.12 CONFIG QUIET)
kniommu_require(GTest_FOUND "libgtest-dev libgmock-dev" "GoogleTest (GTestConfig.cmake)")

# librapidcheck-dev ships no version file: asking for a version would fail.
find_package(rapidcheck CONFIG QUIET)
kniommu_require(rapidcheck_FOUND librapidcheck-dev "RapidCheck (rapidcheckConfig.cmake)")

find_package(Boost 1.74 CONFIG QUIET)
kniommu_require(Boost_FOUND libboost-dev "Boost.Hana (BoostConfig.cmake)")
include(CheckIncludeFileCXX)
set(CMAKE_REQUIRED_INCLUDES ${Boost_INCLUDE_DIRS})
check_include_file_cxx(boost/hana.hpp KNIOMMU_HAVE_HANA)
unset(CMAKE_REQUIRED_INCLUDES)
kniommu_require(KNIOMMU_HAVE_HANA libboost-dev "boost/hana.hpp")

# libz3-dev ships only z3.pc (no Z3Config.cmake); try an upstream CMake install first.
# KNIOMMU_TEST_HIDE_Z3 simulates a machine without libz3-dev (used by the dependency-message test).
option(KNIOMMU_TEST_HIDE_Z3 "Pretend Z3 is not installed (tests only)" OFF)
if(KNIOMMU_TEST_HIDE_Z3)
  kniommu_require(FALSE libz3-dev "Z3 (z3.pc)")
endif()
find_package(Z3 CONFIG QUIET)
if(Z3_FOUND AND TARGET z3::libz3)
  add_library(kniommu_z3 INTERFACE)
  target_link_libraries(kniommu_z3 INTERFACE z3::libz3)
else()
  find_package(PkgConfig QUIET)
  kniommu_require(PKG_CONFIG_FOUND pkg-config "pkg-config")
  pkg_check_modules(Z3 QUIET IMPORTED_TARGET z3)
  kniommu_require(Z3_FOUND libz3-dev "Z3 (z3.pc)")
  add_library(kniommu_z3 INTERFACE)
  target_link_libraries(kniommu_z3 INTERFACE PkgConfig::Z3)
endif()

find_package(benchmark CONFIG QUIET)
if(KNIOMMU_BUILD_BENCH)
  kniommu_require(benchmark_FOUND libbenchmark-dev "Google Benchmark (benchmarkConfig.cmake)")
endif()

find_program(KNIOMMU_NODE node)
find_program(KNIOMMU_DOT dot)

include(GoogleTest)
