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

# What users link. Every target these link, even PRIVATE-ly (a static library's private
# dependencies are link dependencies of its users), must be exported too; the closure is computed
# from the targets' link properties so a helper adding a library to impl/ cannot break the export.
# kniommu_warnings ends up exported only as $<LINK_ONLY:...>: its flags never reach a user.
set(_kniommu_roots kniommu_model kniommu_kos kniommu_conformance kniommu_builtin_adapter kniommu_snapshot)

function(_kniommu_link_closure out)
  set(seen)
  set(queue ${ARGN})
  while(queue)
    list(POP_FRONT queue t)
    if(NOT TARGET ${t} OR t IN_LIST seen)
      continue()
    endif()
    get_target_property(imported ${t} IMPORTED)
    if(imported)
      continue()
    endif()
    list(APPEND seen ${t})
    get_target_property(type ${t} TYPE)
    set(deps)
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(private ${t} LINK_LIBRARIES)
      if(private)
        list(APPEND deps ${private})
      endif()
    endif()
    get_target_property(iface ${t} INTERFACE_LINK_LIBRARIES)
    if(iface)
      list(APPEND deps ${iface})
    endif()
    foreach(d IN LISTS deps)
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" d "${d}")
      if(NOT d MATCHES "\\$<")
        list(APPEND queue ${d})
      endif()
    endforeach()
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

_kniommu_link_closure(_kniommu_present ${_kniommu_roots})
foreach(t IN LISTS _kniommu_present)
  get_target_property(_type ${t} TYPE)
  if(_type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${t} INTERFACE $<INSTALL_INTERFACE:${KNIOMMU_INSTALL_INCLUDEDIR}>)
  else()
    target_include_directories(${t} PUBLIC $<INSTALL_INTERFACE:${KNIOMMU_INSTALL_INCLUDEDIR}>)
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
# project that finds it and links the model, the implementation and the conformance suite.
# Needs the whole tree built.
# The consumer gets this build's compiler flags (sanitizer presets instrument the libraries).
kniommu_test(package.find_package_consumer LABEL package TIMEOUT 600
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/package_test/run.sh ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR}
          ${CMAKE_CURRENT_LIST_DIR}/package_test ${CMAKE_BINARY_DIR}/package_test ${CMAKE_CXX_COMPILER}
          "${CMAKE_CXX_FLAGS}" "${CMAKE_EXE_LINKER_FLAGS}")

# What `cmake --install` ships has no deliberately injected bug (issue 15): no mutant symbol and no
# KNIOMMU_MUTANT string in any installed library (cmake/CheckNoMutants.cmake).
find_program(KNIOMMU_NM nm REQUIRED)
kniommu_test(package.installed_libraries_have_no_mutants LABEL package TIMEOUT 300
  COMMAND ${CMAKE_COMMAND} -DNM=${KNIOMMU_NM} -DEXPECT=absent -DINSTALL_FROM=${CMAKE_BINARY_DIR}
          -DPREFIX=${CMAKE_BINARY_DIR}/no-mutants-install -P ${CMAKE_CURRENT_LIST_DIR}/CheckNoMutants.cmake)
