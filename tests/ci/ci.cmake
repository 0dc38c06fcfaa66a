# tests/ci/ci.cmake - the checks CI adds to the suite (scripts/test.sh).
#
# They are registered for the configuration "CI" only, so that a developer's
# plain `ctest --test-dir build` runs the usual suite and `ctest -C CI` (what
# scripts/test.sh runs) runs it plus these, with one summary at the end:
#   ci/asan_unit, ci/asan_integration   the unit tests and the integration tests that
#                                       need no leak-free MPI, in the ASan+UBSan build
#                                       <build>-asan (scripts/test.sh builds it), with
#                                       leak detection
#   ci/asan_integration_mpi             the MPI stages' tests under ASan+UBSan, no leak check
#   ci/valgrind_stages                  memcheck of inspect, compress, 1-rank evaluate
#   ci/fuzz_smoke_<harness>             each libFuzzer harness for SQ_FUZZ_SMOKE_SECONDS
#                                       (default 20) under ASan+UBSan in <build>-fuzz
set(SQUEEZE_ASAN_BUILD_DIR "${CMAKE_BINARY_DIR}-asan")
set(SQUEEZE_FUZZ_BUILD_DIR "${CMAKE_BINARY_DIR}-fuzz")
set(SQUEEZE_CI_ENV
  "SQ_BUILD_DIR=${CMAKE_BINARY_DIR};SQ_SOURCE_DIR=${CMAKE_SOURCE_DIR};SQ_TEST_DATA=${CMAKE_SOURCE_DIR}/tests/data")
set(SQUEEZE_SANITIZER_ENV
  "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0"
  "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1"
  "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/ci/lsan-openmpi.supp:print_suppressions=0"
  "OMPI_MCA_rmaps_base_oversubscribe=1")

# Integration tests under the sanitizers.  Those whose programs never start MPI
# run with leak detection; the MPI stages (calibrate, evaluate, and the tests that
# run them) run with ASan and UBSan but without LeakSanitizer, whose stop-the-world
# tracer crashes on Open MPI's progress threads ("Tracer caught signal 11"), and
# whose reports there would be Open MPI's own allocations.
set(SQUEEZE_ASAN_INTEGRATION "integration/test_(inspect|check)$")
set(SQUEEZE_ASAN_INTEGRATION_MPI "integration/test_(calibrate|evaluate|compress|report|bad_inputs)$")

add_test(NAME ci/asan_unit CONFIGURATIONS CI
  COMMAND ctest --test-dir ${SQUEEZE_ASAN_BUILD_DIR} -L unit --output-on-failure)
add_test(NAME ci/asan_integration CONFIGURATIONS CI
  COMMAND ctest --test-dir ${SQUEEZE_ASAN_BUILD_DIR} -R ${SQUEEZE_ASAN_INTEGRATION} --output-on-failure)
set_tests_properties(ci/asan_unit ci/asan_integration PROPERTIES LABELS "ci;asan" TIMEOUT 1200
  ENVIRONMENT "${SQUEEZE_SANITIZER_ENV}")
add_test(NAME ci/asan_integration_mpi CONFIGURATIONS CI
  COMMAND ctest --test-dir ${SQUEEZE_ASAN_BUILD_DIR} -R ${SQUEEZE_ASAN_INTEGRATION_MPI} --output-on-failure)
string(REPLACE "detect_leaks=1" "detect_leaks=0" SQUEEZE_SANITIZER_ENV_MPI "${SQUEEZE_SANITIZER_ENV}")
set_tests_properties(ci/asan_integration_mpi PROPERTIES LABELS "ci;asan" TIMEOUT 1200
  ENVIRONMENT "${SQUEEZE_SANITIZER_ENV_MPI}")

add_test(NAME ci/valgrind_stages CONFIGURATIONS CI COMMAND bash ${CMAKE_SOURCE_DIR}/tests/ci/valgrind_stages.sh)
set_tests_properties(ci/valgrind_stages PROPERTIES LABELS "ci;valgrind" TIMEOUT 900
  ENVIRONMENT "${SQUEEZE_CI_ENV}" DEPENDS "${SQUEEZE_EXECUTABLES}")

foreach(harness_source ${SQUEEZE_FUZZ_HARNESSES})
  get_filename_component(harness ${harness_source} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" short ${harness})
  add_test(NAME ci/fuzz_smoke_${short} CONFIGURATIONS CI
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/ci/fuzz_smoke.sh ${short})
  set_tests_properties(ci/fuzz_smoke_${short} PROPERTIES LABELS "ci;fuzz" TIMEOUT 600
    ENVIRONMENT "SQ_FUZZ_BUILD_DIR=${SQUEEZE_FUZZ_BUILD_DIR};SQ_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endforeach()
