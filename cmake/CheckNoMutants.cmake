# cmake -DNM=<nm> -DEXPECT=absent|present -DFILES="<lib>;<lib>..." -P CheckNoMutants.cmake
# absent: no library defines or references a mutant symbol (active_mutant, set_active_mutant,
# select_mutant, mutant_from_name, ...) and none contains the KNIOMMU_MUTANT environment variable
# name. present: the teeth of the check: every library listed does contain them.
foreach(f IN LISTS FILES)
  execute_process(COMMAND ${NM} -C ${f} OUTPUT_VARIABLE syms RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${f}")
  endif()
  string(REGEX MATCHALL "[^\n]*(active_mutant|select_mutant|mutant_from_name|kMutants)[^\n]*"
         hits "${syms}")
  file(STRINGS ${f} env_hits REGEX "KNIOMMU_MUTANT")
  list(APPEND hits ${env_hits})
  list(LENGTH hits n)
  if(EXPECT STREQUAL "absent" AND n GREATER 0)
    list(JOIN hits "\n  " text)
    message(FATAL_ERROR "${f} contains mutant code:\n  ${text}")
  elseif(EXPECT STREQUAL "present" AND n EQUAL 0)
    message(FATAL_ERROR "${f} contains no mutant symbol: the check would find nothing")
  endif()
  message(STATUS "${f}: ${n} mutant symbol(s), as expected (${EXPECT})")
endforeach()
