# kniommu-audit and the snapshot file format it reads (docs/snapshot-format.md).
#   kniommu_snapshot_format  reader + writer of the file format; standard library only, so the
#                            fuzz harness can compile it with clang++ on its own
#   kniommu_snapshot         captures a snapshot of a running simulated system (sim.h calls only)
#   kniommu_audit_lib        the analysis and its text / JSON / DOT renderings
#   kniommu-audit            the command-line tool
set(_audit ${CMAKE_CURRENT_SOURCE_DIR}/audit)

add_library(kniommu_snapshot_format STATIC
  ${_audit}/snapshot/reader.cpp
  ${_audit}/snapshot/writer.cpp)
target_include_directories(kniommu_snapshot_format PUBLIC
  $<BUILD_INTERFACE:${_audit}>
  $<INSTALL_INTERFACE:include/kniommu/tools>)
target_link_libraries(kniommu_snapshot_format PRIVATE kniommu_warnings)

kniommu_gtest(snapshot_format_tests LABEL unit
  SOURCES ${_audit}/tests/snapshot_format_tests.cpp
  LIBS kniommu_snapshot_format)

# The analysis decodes entries with impl/vtd's layouts (kniommu_vtd_formats, header-only): it cannot
# call the driver's page-table code.
add_library(kniommu_audit_lib STATIC
  ${_audit}/analysis/analysis.cpp
  ${_audit}/analysis/findings.cpp
  ${_audit}/analysis/names.cpp
  ${_audit}/analysis/policy.cpp
  ${_audit}/analysis/ranges.cpp
  ${_audit}/analysis/table_walk.cpp
  ${_audit}/render/common.cpp
  ${_audit}/render/dot.cpp
  ${_audit}/render/json.cpp
  ${_audit}/render/outputs.cpp
  ${_audit}/render/text.cpp)
target_link_libraries(kniommu_audit_lib PUBLIC kniommu_snapshot_format PRIVATE kniommu_vtd_formats kniommu_tool_io kniommu_warnings)

# Capture from systems kniommu did not build: a QEMU VM over QMP, a guest memory dump
# (docs/auditing-a-vm.md). POSIX sockets and the standard library only.
add_library(kniommu_audit_live STATIC
  ${_audit}/live/dump_capture.cpp
  ${_audit}/live/json.cpp
  ${_audit}/live/qemu_text.cpp
  ${_audit}/live/qmp_capture.cpp
  ${_audit}/live/qmp_client.cpp)
target_link_libraries(kniommu_audit_live PUBLIC kniommu_audit_lib PRIVATE kniommu_warnings)

kniommu_gtest(audit_live_tests LABEL unit
  SOURCES ${_audit}/tests/live_tests.cpp ${_audit}/tests/fake_qmp.cpp ${_audit}/tests/table_builder.cpp
          ${_audit}/linux/record.cpp
  LIBS kniommu_audit_live kniommu_vtd_formats)
target_include_directories(audit_live_tests PRIVATE ${_audit}/tests)

add_executable(kniommu-audit ${_audit}/cli/main.cpp)
target_link_libraries(kniommu-audit PRIVATE kniommu_audit_lib kniommu_audit_live kniommu_warnings)
# common/input_file.h: opening the user's file safely (header only).
target_link_libraries(kniommu-audit PRIVATE kniommu_tool_io)

kniommu_gtest(audit_tests LABEL unit
  SOURCES ${_audit}/tests/ranges_tests.cpp ${_audit}/tests/analysis_tests.cpp
          ${_audit}/tests/findings_tests.cpp ${_audit}/tests/policy_tests.cpp
          ${_audit}/tests/table_builder.cpp
  LIBS kniommu_audit_lib kniommu_vtd_formats)
target_include_directories(audit_tests PRIVATE ${_audit}/tests)

# The command line as a user runs it, on the fuzzer's seed snapshot (two devices, metadata).
add_executable(snapshot_make_seed ${_audit}/fuzz/make_seed.cpp)
target_link_libraries(snapshot_make_seed PRIVATE kniommu_snapshot_format kniommu_warnings)
kniommu_test(audit_cli LABEL unit
  COMMAND ${_audit}/tests/cli_test.sh $<TARGET_FILE:kniommu-audit> $<TARGET_FILE:snapshot_make_seed>
          ${CMAKE_CURRENT_BINARY_DIR}/audit_cli)

# The snapshot writer for a live simulated system (sim.h); linked with the built-in implementation.
add_library(kniommu_snapshot STATIC ${_audit}/capture/capture.cpp ${_audit}/capture/metadata.cpp)
target_link_libraries(kniommu_snapshot PUBLIC kniommu_audit_lib kniommu_kos PRIVATE kniommu_vtd_formats kniommu_warnings)

kniommu_gtest(snapshot_capture_tests LABEL unit
  SOURCES ${_audit}/tests/capture_tests.cpp
  LIBS kniommu_snapshot)

# The fuzz harness compiles the audit's sources itself (clang++), with these include dirs.
set(KNIOMMU_AUDIT_FUZZ_EXTRA
  -I${PROJECT_SOURCE_DIR}/impl -I${PROJECT_SOURCE_DIR}/impl/include
  ${_audit}/analysis/analysis.cpp ${_audit}/analysis/findings.cpp ${_audit}/analysis/policy.cpp
  ${_audit}/analysis/names.cpp ${_audit}/analysis/ranges.cpp
  ${_audit}/analysis/table_walk.cpp ${_audit}/render/common.cpp ${_audit}/render/text.cpp
  ${_audit}/render/json.cpp ${_audit}/render/dot.cpp)

# Bounded libFuzzer run (clang++ builds it: g++ has no libFuzzer). The audit's own sources are
# passed on so the harness also runs the analysis on every snapshot the reader accepts.
kniommu_test(snapshot_fuzz LABEL unit TIMEOUT 300 COST 58
  COMMAND ${_audit}/fuzz/run_fuzz.sh ${_audit} ${CMAKE_CURRENT_BINARY_DIR}/snapshot_fuzz
          ${KNIOMMU_FUZZ_SECONDS} ${KNIOMMU_AUDIT_FUZZ_EXTRA})

# Linux's own VT-d tables in a running QEMU VM (label `linux`; docs/auditing-a-vm.md): one boot
# per unit width, every assertion on that boot. SKIPPED (exit 77) without QEMU or the guest
# packages that scripts/bootstrap fetches.
add_executable(linux_vm_check ${_audit}/linux/vm_check.cpp ${_audit}/linux/record.cpp)
target_link_libraries(linux_vm_check PRIVATE kniommu_audit_live kniommu_warnings)
foreach(_aw 39 48)
  kniommu_test(linux.vm_aw${_aw} LABEL linux TIMEOUT 420 COST 16
    COMMAND ${_audit}/linux/linux_test.sh $<TARGET_FILE:kniommu-audit> $<TARGET_FILE:linux_vm_check>
            ${CMAKE_CURRENT_BINARY_DIR}/linux_vm_aw${_aw} ${_aw})
  set_tests_properties(linux.vm_aw${_aw} PROPERTIES SKIP_RETURN_CODE 77 RESOURCE_LOCK linux_vm)
endforeach()
kniommu_test(audit_live_cli LABEL unit
  COMMAND ${_audit}/tests/live_cli_test.sh $<TARGET_FILE:kniommu-audit> $<TARGET_FILE:snapshot_make_seed>
          ${_audit}/linux/linux_test.sh ${CMAKE_CURRENT_BINARY_DIR}/audit_live_cli)

# The audit is an independent walker: it reads the layouts, never the driver's or the emulator's code.
kniommu_forbidden_include(audit_sees_no_page_table TARGET kniommu_audit_lib
  HEADER vtd/page_table.h ALLOWED vtd/sl_masks.h)
kniommu_forbidden_include(audit_sees_no_emulator TARGET kniommu_audit_lib
  HEADER hw/walker.h ALLOWED vtd/caps.h)
