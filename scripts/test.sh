#!/usr/bin/env bash
# test.sh - the whole test suite as CI runs it (after scripts/setup.sh built build/).
#
#   scripts/test.sh
#
# 1. builds the ASan+UBSan build into <build>-asan (scripts/setup.sh with SQ_SANITIZE=1)
# 2. builds the libFuzzer harnesses into <build>-fuzz (clang)
# 3. runs `ctest -C CI` on <build>: the usual suite (unit, integration, MPI, Slurm,
#    Chromium, fuzz regression replays) plus the CI checks of tests/ci/ci.cmake:
#    unit and stage integration tests under ASan+UBSan, a valgrind memcheck of the
#    stages, and a fuzz smoke run of every harness (SQ_FUZZ_SMOKE_SECONDS each,
#    default 30); the kill-anywhere test with SQ_KILL_MOMENTS (default 10) kills of the
#    driver and as many of stages.  ctest's summary is the last thing printed.
# A developer's plain `ctest --test-dir build` still runs the usual suite alone.
#   SQ_BUILD_DIR=dir      the build to test (default build)
#   SQ_CI_QUICK=1         skip the sanitizer and fuzz builds and checks (the usual suite only)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SQ_BUILD_DIR:-build}
[ -f "$BUILD/CTestTestfile.cmake" ] || { echo "test.sh: $BUILD is not built; run scripts/setup.sh first" >&2; exit 2; }
jobs=$(nproc)
start=$(date +%s)
stamp() { echo "[test] $1 ($(( $(date +%s) - start )) s)" >&2; }

if [ "${SQ_CI_QUICK:-0}" = 1 ]; then
  exec ctest --test-dir "$BUILD" --output-on-failure
fi

stamp "building the ASan+UBSan build into $BUILD-asan"
SQ_SKIP_INSTALL=1 SQ_SANITIZE=1 SQ_BUILD_DIR="$BUILD-asan" ./scripts/setup.sh >/dev/null
stamp "building the fuzz harnesses into $BUILD-fuzz"
if [ ! -f "$BUILD-fuzz/CMakeCache.txt" ]; then
  CC=clang cmake -S . -B "$BUILD-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSQUEEZE_FUZZ=ON >/dev/null
fi
cmake --build "$BUILD-fuzz" -j"$jobs" --target fuzz_all >/dev/null
# the kill test with more moments, and a seed from the clock (printed; SQ_KILL_SEED reproduces)
export SQ_KILL_MOMENTS=${SQ_KILL_MOMENTS:-10}
export SQ_KILL_SEED=${SQ_KILL_SEED:-$(( $(date +%s) % 100000 ))}
export SQ_FUZZ_SMOKE_SECONDS=${SQ_FUZZ_SMOKE_SECONDS:-30}
stamp "running the suite with the CI checks (kill moments $SQ_KILL_MOMENTS, seed $SQ_KILL_SEED; fuzz ${SQ_FUZZ_SMOKE_SECONDS}s per harness)"
ctest --test-dir "$BUILD" -C CI --output-on-failure
