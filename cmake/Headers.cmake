# Include directories that enforce the architecture (docs/architecture.md "Enforced by the build").
#
# Sources include headers by their path below impl/ ("vtd/formats.h", "hw/remapping_unit.h") or
# below the repository root ("model/model.h"). Exporting those roots as include directories would
# let any library include any header, so instead every library gets two staged include trees of
# symbolic links under the build tree:
#   - a PRIVATE tree holding every header of its own folder (its sources and nothing else see them);
#   - a PUBLIC tree holding only the headers named as its interface (what its users may include).
# A header that is in neither tree of a library, nor in the public tree of a library it links, is
# simply not found: `#include "kos/system.h"` in the conformance suite fails to compile
# (CTest `architecture.forbidden_include.*`).
#
# kniommu_headers(<target> [ROOT <dir>] [PUBLIC <header>...] [NO_PRIVATE])
#   ROOT       the directory the include paths are relative to (default: impl/)
#   PUBLIC     headers, relative to ROOT, that users of <target> may include
#   NO_PRIVATE for INTERFACE libraries: no sources of their own
# The own-folder tree takes every *.h below CMAKE_CURRENT_SOURCE_DIR except tests/ and folders
# with a CMakeLists.txt of their own (another library).
function(kniommu_headers target)
  cmake_parse_arguments(A "NO_PRIVATE" "ROOT" "PUBLIC" ${ARGN})
  if(NOT A_ROOT)
    set(A_ROOT ${PROJECT_SOURCE_DIR}/impl)
  endif()
  get_target_property(type ${target} TYPE)
  set(iface_scope PUBLIC)
  if(type STREQUAL "INTERFACE_LIBRARY")
    set(iface_scope INTERFACE)
  endif()
  set(stage ${PROJECT_BINARY_DIR}/staged-headers/${target})
  file(REMOVE_RECURSE ${stage})

  foreach(h IN LISTS A_PUBLIC)
    if(NOT EXISTS ${A_ROOT}/${h})
      message(FATAL_ERROR "kniommu_headers(${target}): public header ${h} not found below ${A_ROOT}")
    endif()
    _kniommu_stage_link(${A_ROOT}/${h} ${stage}/public/${h})
  endforeach()
  file(MAKE_DIRECTORY ${stage}/public)
  target_include_directories(${target} ${iface_scope} $<BUILD_INTERFACE:${stage}/public>)

  if(NOT A_NO_PRIVATE)
    file(GLOB_RECURSE own RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} CONFIGURE_DEPENDS
         ${CMAKE_CURRENT_SOURCE_DIR}/*.h)
    file(RELATIVE_PATH prefix ${A_ROOT} ${CMAKE_CURRENT_SOURCE_DIR})
    foreach(h IN LISTS own)
      if(h MATCHES "(^|/)tests/")
        continue()
      endif()
      # Skip headers that belong to a nested library (a subfolder with its own CMakeLists.txt).
      get_filename_component(sub ${h} DIRECTORY)
      set(nested FALSE)
      while(sub)
        if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${sub}/CMakeLists.txt)
          set(nested TRUE)
        endif()
        get_filename_component(sub ${sub} DIRECTORY)
      endwhile()
      if(NOT nested)
        _kniommu_stage_link(${CMAKE_CURRENT_SOURCE_DIR}/${h} ${stage}/private/${prefix}/${h})
      endif()
    endforeach()
    file(MAKE_DIRECTORY ${stage}/private)
    target_include_directories(${target} PRIVATE ${stage}/private)
  endif()
endfunction()

function(_kniommu_stage_link from to)
  get_filename_component(dir ${to} DIRECTORY)
  file(MAKE_DIRECTORY ${dir})
  file(CREATE_LINK ${from} ${to} SYMBOLIC)
endfunction()

# kniommu_forbidden_include(<name> TARGET <target> HEADER <header> ALLOWED <header>)
# Two tests: compiling `#include "<HEADER>"` with exactly the include directories <target>'s own
# sources get must fail because the header is not found, and the same with ALLOWED (a header the
# target may use) must succeed, so the first cannot pass for an unrelated reason. The compiler runs
# directly with -fsyntax-only (no nested build of this tree).
function(kniommu_forbidden_include name)
  cmake_parse_arguments(A "" "TARGET;HEADER;ALLOWED" "" ${ARGN})
  set(dirs "$<TARGET_PROPERTY:${A_TARGET},INCLUDE_DIRECTORIES>")
  set(flags "-I$<JOIN:${dirs},$<SEMICOLON>-I>")
  set(probe ${PROJECT_SOURCE_DIR}/cmake/include_probe.cpp)
  foreach(kind forbidden allowed)
    if(kind STREQUAL "forbidden")
      set(h ${A_HEADER})
    else()
      set(h ${A_ALLOWED})
    endif()
    add_test(NAME architecture.${kind}_include.${name}
      COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only ${flags}
              "-DKNIOMMU_PROBE_HEADER=\"${h}\"" ${probe}
      COMMAND_EXPAND_LISTS)
    set_tests_properties(architecture.${kind}_include.${name} PROPERTIES LABELS unit TIMEOUT 60)
  endforeach()
  string(REPLACE "." "\\." escaped ${A_HEADER})
  set_tests_properties(architecture.forbidden_include.${name} PROPERTIES
    PASS_REGULAR_EXPRESSION "${escaped}: No such file or directory")
endfunction()
