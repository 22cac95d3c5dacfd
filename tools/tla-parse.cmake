# The TLA+ parse check (label spec): spec/KnIommu.tla must parse with the official grammar, every
# invariant spec/README.md lists must be defined in it, every invariant the model checks
# (model/invariants.cpp) must be listed, and every step function of model/model.h must have an
# action of the same name (attach_device -> AttachDevice), and the conformance commands and proof
# actions must be named after the spec's actions. tools/tla-parse/node_modules comes from scripts/bootstrap.
find_program(KNIOMMU_NODE NAMES node nodejs)
set(_tla_dir ${CMAKE_CURRENT_SOURCE_DIR}/tla-parse)
if(KNIOMMU_NODE)
  set(_tla_parse ${KNIOMMU_NODE} ${_tla_dir}/parse.js)
else()
  # Registered anyway so that a missing Node.js fails the spec tests instead of hiding them.
  set(_tla_parse sh -c "echo 'FAIL: Node.js not found (scripts/bootstrap installs nodejs)'; exit 1" --)
endif()

kniommu_test(spec_parse LABEL spec COMMAND ${_tla_parse} ${PROJECT_SOURCE_DIR}/spec/KnIommu.tla
  --readme ${PROJECT_SOURCE_DIR}/spec/README.md
  --listed-from ${PROJECT_SOURCE_DIR}/model/invariants.cpp
  # The Z3 proofs' invariants carry the spec's names; two are strengthenings, not spec invariants.
  --listed-from ${PROJECT_SOURCE_DIR}/proofs/abstract_state.cpp
  --not-invariants ProcessLifecycle,AutoDomainRef
  --actions-from ${PROJECT_SOURCE_DIR}/model/model.h
  # The conformance commands and the Z3 proof actions use the spec's action names. Not actions:
  # NullArgs (null out-pointers), VmAccess (CPU access through a mapping), Scenario (a composite).
  --names-from ${PROJECT_SOURCE_DIR}/refinement_tests/src/commands_api.cpp
  --names-from ${PROJECT_SOURCE_DIR}/refinement_tests/src/commands_dma.cpp
  --names-from ${PROJECT_SOURCE_DIR}/refinement_tests/src/commands_scenario.cpp
  --names-from ${PROJECT_SOURCE_DIR}/refinement_tests/src/linearizability.cpp
  --names-from ${PROJECT_SOURCE_DIR}/proofs/abstract_actions.cpp
  --names-from ${PROJECT_SOURCE_DIR}/proofs/impl_steps.cpp
  --not-actions NullArgs,VmAccess,Scenario
  # The glossary's spec column names only what the module defines, each other column only names
  # its layer's sources use.
  --glossary ${PROJECT_SOURCE_DIR}/docs/semantics.md
  --glossary-column model=${PROJECT_SOURCE_DIR}/model,${PROJECT_SOURCE_DIR}/impl/include
  --glossary-column implementation=${PROJECT_SOURCE_DIR}/impl,${PROJECT_SOURCE_DIR}/tools/audit
  --glossary-column suite=${PROJECT_SOURCE_DIR}/refinement_tests
  --glossary-column proofs=${PROJECT_SOURCE_DIR}/proofs)

# The check itself must be able to fail: a malformed module and a README that drifted.
kniommu_test(spec_parse_rejects_syntax_error LABEL spec
  COMMAND ${_tla_parse} ${_tla_dir}/testdata/Broken.tla)
set_tests_properties(spec_parse_rejects_syntax_error PROPERTIES
  PASS_REGULAR_EXPRESSION "FAIL Broken\\.tla:5:[0-9]+: syntax error")
kniommu_test(spec_parse_rejects_readme_drift LABEL spec
  COMMAND ${_tla_parse} ${_tla_dir}/testdata/Good.tla --readme ${_tla_dir}/testdata/DriftREADME.md)
set_tests_properties(spec_parse_rejects_readme_drift PROPERTIES
  PASS_REGULAR_EXPRESSION "invariant Bounded is not defined in the module")
kniommu_test(spec_parse_rejects_old_names LABEL spec
  COMMAND ${_tla_parse} ${_tla_dir}/testdata/Good.tla --names-from ${_tla_dir}/testdata/OldNames.cpp)
set_tests_properties(spec_parse_rejects_old_names PROPERTIES
  PASS_REGULAR_EXPRESSION "OldNames\\.cpp: KnIommuAttachDevice is not an action")
kniommu_test(spec_parse_rejects_renamed_invariant LABEL spec
  COMMAND ${_tla_parse} ${_tla_dir}/testdata/Good.tla --readme ${_tla_dir}/testdata/GoodREADME.md
  --listed-from ${_tla_dir}/testdata/RenamedInvariant.cpp --not-invariants Strengthening)
set_tests_properties(spec_parse_rejects_renamed_invariant PROPERTIES
  PASS_REGULAR_EXPRESSION "RenamedInvariant\\.cpp: checks OldPositive, which the README does not list"
  FAIL_REGULAR_EXPRESSION "checks (Positive|Strengthening),")
kniommu_test(spec_parse_rejects_glossary_drift LABEL spec
  COMMAND ${_tla_parse} ${_tla_dir}/testdata/Good.tla --glossary ${_tla_dir}/testdata/GlossaryDrift.md
  --glossary-column model=${_tla_dir}/testdata)
set_tests_properties(spec_parse_rejects_glossary_drift PROPERTIES
  PASS_REGULAR_EXPRESSION "glossary names Missing, which the module does not define.*glossary names the field gone.*the model column names missing_name,"
  FAIL_REGULAR_EXPRESSION "names (x|Init|Next|Positive|kChecks|testdata|OldNames|cpp),")
# The model-checking and trace-validation modules parse too (also without TLC).
foreach(m KnIommuMC KnIommuTrace KnIommuNamedOnceBug)
  kniommu_test(spec_parse_${m} LABEL spec COMMAND ${_tla_parse} ${PROJECT_SOURCE_DIR}/spec/${m}.tla)
endforeach()
