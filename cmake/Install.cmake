# `cmake --install` exports the CMake package `kniommu`: a user's project can
#   find_package(kniommu REQUIRED)
#   target_link_libraries(app PRIVATE kniommu::kniommu_model)        # the reference model
#   target_link_libraries(app PRIVATE kniommu::kniommu_kos)          # the implementation + sim.h
#   target_link_libraries(app PRIVATE kniommu::kniommu_conformance)  # the conformance suite
#   target_link_libraries(app PRIVATE kniommu::kniommu_snapshot)     # snapshot writer + audit
# Headers go to <prefix>/include/kniommu (the C API as <kniommu/iommu_api.h>, the model as
# <model/model.h>, VT-d layouts as <vtd/formats.h>, the audit under tools/).
#
# The targets are defined by other folders with $<BUILD_INTERFACE:...> include directories only;
# the install-side include directory is added here, so their CMakeLists stay untouched.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(KNIOMMU_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/kniommu)
set(KNIOMMU_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/kniommu)

# Every target an exported one links, even PRIVATE-ly (a static library's private dependencies
# are link dependencies of its users), must be in the export set. kniommu_warnings is exported
# too but only as $<LINK_ONLY:...>, so its flags never reach a user's compile.
set(_kniommu_exported
  kniommu_warnings kniommu_common kniommu_vtd kniommu_vtd_driver kniommu_hw kniommu_kos
  kniommu_model kniommu_adapter_abi kniommu_conformance kniommu_builtin_adapter
  kniommu_snapshot_format kniommu_audit_lib kniommu_snapshot)
set(_kniommu_present)
foreach(t IN LISTS _kniommu_exported)
  if(TARGET ${t})
    list(APPEND _kniommu_present ${t})
    get_target_property(_type ${t} TYPE)
    if(_type STREQUAL "INTERFACE_LIBRARY")
      target_include_directories(${t} INTERFACE $<INSTALL_INTERFACE:${KNIOMMU_INSTALL_INCLUDEDIR}>)
    else()
      target_include_directories(${t} PUBLIC $<INSTALL_INTERFACE:${KNIOMMU_INSTALL_INCLUDEDIR}>)
    endif()
  endif()
endforeach()

install(TARGETS ${_kniommu_present} EXPORT kniommuTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${KNIOMMU_INSTALL_INCLUDEDIR})
install(EXPORT kniommuTargets NAMESPACE kniommu:: DESTINATION ${KNIOMMU_INSTALL_CMAKEDIR})

# Tools and the example adapter a user runs or loads.
foreach(t kniommu-conform kniommu-audit kniommu_example_adapter)
  if(TARGET ${t})
    install(TARGETS ${t} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  endif()
endforeach()

# Public headers, keeping the include paths the sources use.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/impl/include/kniommu ${PROJECT_SOURCE_DIR}/refinement_tests/include/kniommu
  DESTINATION ${KNIOMMU_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/impl/vtd ${PROJECT_SOURCE_DIR}/impl/common ${PROJECT_SOURCE_DIR}/model
  DESTINATION ${KNIOMMU_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h"
  PATTERN "tests" EXCLUDE PATTERN "driver" EXCLUDE)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/tools/audit/
  DESTINATION ${KNIOMMU_INSTALL_INCLUDEDIR}/tools FILES_MATCHING PATTERN "*.h"
  PATTERN "tests" EXCLUDE PATTERN "fuzz" EXCLUDE PATTERN "cli" EXCLUDE)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/kniommuConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/kniommuConfig.cmake INSTALL_DESTINATION ${KNIOMMU_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/kniommuConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/kniommuConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/kniommuConfigVersion.cmake
  DESTINATION ${KNIOMMU_INSTALL_CMAKEDIR})

# The package works: install into a scratch prefix, then configure, build and run a consumer
# project that finds it and links the model and the implementation. Needs the whole tree built.
# The consumer gets this build's compiler flags (sanitizer presets instrument the libraries).
kniommu_test(package.find_package_consumer LABEL unit TIMEOUT 600
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/package_test/run.sh ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR}
          ${CMAKE_CURRENT_LIST_DIR}/package_test ${CMAKE_BINARY_DIR}/package_test ${CMAKE_CXX_COMPILER}
          "${CMAKE_CXX_FLAGS}" "${CMAKE_EXE_LINKER_FLAGS}")
