# cmake -DNM=<nm> -DEXPECT=absent|present -DFILES="<lib>|<lib>..." -P CheckNoMutants.cmake
# absent: no library defines or references a mutant symbol (active_mutant, set_active_mutant,
# select_mutant, mutant_from_name, ...) and none contains the KNIOMMU_MUTANT environment variable
# name. present: the teeth of the check: every library listed does contain them.
# With -DINSTALL_FROM=<build dir> -DPREFIX=<scratch dir>, the libraries checked are those that
# `cmake --install` puts under <scratch dir> (removed afterwards).
if(INSTALL_FROM)
  file(REMOVE_RECURSE ${PREFIX})
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${INSTALL_FROM} --prefix ${PREFIX}
                  OUTPUT_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    file(REMOVE_RECURSE ${PREFIX})
    message(FATAL_ERROR "cmake --install failed")
  endif()
  file(GLOB_RECURSE FILES ${PREFIX}/*.a ${PREFIX}/*.so)
  list(LENGTH FILES n)
  if(n EQUAL 0)
    file(REMOVE_RECURSE ${PREFIX})
    message(FATAL_ERROR "cmake --install installed no library")
  endif()
endif()
string(REPLACE "|" ";" FILES "${FILES}")
list(REMOVE_ITEM FILES "")
set(failed "")
foreach(f IN LISTS FILES)
  # nm | grep as a pipeline: CMake regexes over the symbol list of the big libraries are slow.
  execute_process(COMMAND ${NM} -C ${f} ERROR_QUIET
                  COMMAND grep -E "active_mutant|select_mutant|mutant_from_name|kMutants"
                  OUTPUT_VARIABLE syms)
  execute_process(COMMAND grep -a -o KNIOMMU_MUTANT ${f} OUTPUT_VARIABLE env_hits)
  string(REGEX REPLACE "\n$" "" syms "${syms}")
  string(REGEX REPLACE "\n$" "" env_hits "${env_hits}")
  string(REPLACE "\n" ";" hits "${syms}")
  string(REPLACE "\n" ";" env_list "${env_hits}")
  list(APPEND hits ${env_list})
  list(REMOVE_ITEM hits "")
  list(LENGTH hits n)
  if(EXPECT STREQUAL "absent" AND n GREATER 0)
    list(JOIN hits "\n  " text)
    string(APPEND failed "${f} contains mutant code:\n  ${text}\n")
  elseif(EXPECT STREQUAL "present" AND n EQUAL 0)
    message(FATAL_ERROR "${f} contains no mutant symbol: the check would find nothing")
  endif()
  message(STATUS "${f}: ${n} mutant symbol(s) (${EXPECT} expected)")
endforeach()
if(INSTALL_FROM)
  file(REMOVE_RECURSE ${PREFIX})
endif()
if(failed)
  message(FATAL_ERROR "${failed}")
endif()
