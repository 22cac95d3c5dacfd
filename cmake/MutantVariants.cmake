# Deliberately injected bugs live only in a test build (issue 15). The production libraries are
# compiled without KNIOMMU_MUTANTS: common/mutation.h's mutant() is constexpr false there, every
# buggy path compiles away, no mutant symbol or environment variable exists. With the option
# KNIOMMU_MUTANTS, each library that has mutant code paths is compiled a second time as
# <name>_mutants (same sources and settings, KNIOMMU_MUTANTS=1, its kniommu dependencies replaced
# by their _mutants variants) plus kniommu_mutation (the run-time switch). Only the suite's own
# teeth tests link the variants; nothing installs them (tests/mutants_absent checks with nm).

# kniommu_mutant_variants(<target>...): in dependency order (a target's kniommu dependencies first).
function(kniommu_mutant_variants)
  set(variants ${KNIOMMU_MUTANT_VARIANTS})
  foreach(t IN LISTS ARGN)
    set(v ${t}_mutants)
    get_target_property(dir ${t} SOURCE_DIR)
    get_target_property(srcs ${t} SOURCES)
    set(abs)
    foreach(s IN LISTS srcs)
      if(IS_ABSOLUTE "${s}")
        list(APPEND abs "${s}")
      else()
        list(APPEND abs "${dir}/${s}")
      endif()
    endforeach()
    add_library(${v} STATIC ${abs})
    foreach(prop INCLUDE_DIRECTORIES INTERFACE_INCLUDE_DIRECTORIES COMPILE_DEFINITIONS
                 INTERFACE_COMPILE_DEFINITIONS POSITION_INDEPENDENT_CODE)
      get_target_property(val ${t} ${prop})
      if(val)
        set_property(TARGET ${v} PROPERTY ${prop} "${val}")
      endif()
    endforeach()
    foreach(prop LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
      get_target_property(val ${t} ${prop})
      if(NOT val)
        continue()
      endif()
      set(mapped)
      foreach(dep IN LISTS val)
        foreach(known IN LISTS variants)
          string(REGEX REPLACE "^${known}$" "${known}_mutants" dep "${dep}")
          string(REGEX REPLACE "^\\$<LINK_ONLY:${known}>$" "$<LINK_ONLY:${known}_mutants>" dep "${dep}")
        endforeach()
        list(APPEND mapped "${dep}")
      endforeach()
      set_property(TARGET ${v} PROPERTY ${prop} "${mapped}")
    endforeach()
    target_link_libraries(${v} PUBLIC kniommu_mutation)
    list(APPEND variants ${t})
  endforeach()
  set(KNIOMMU_MUTANT_VARIANTS ${variants} PARENT_SCOPE)
endfunction()
