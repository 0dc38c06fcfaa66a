#!/usr/bin/env bash
# fuzz.sh - run squeeze's libFuzzer harnesses (tests/fuzz/) for a time budget each.
#
#   scripts/fuzz.sh SECONDS [HARNESS...]     default: every tests/fuzz/fuzz_*.c, one after the other
#
# Builds the harnesses with clang, libFuzzer, ASan and UBSan into build-fuzz/
# (SQ_FUZZ_BUILD_DIR), seeds each working corpus (build-fuzz/corpus/<harness>)
# from tests/fuzz/seeds.txt, uses tests/fuzz/dict/<harness>.dict, and fails on any
# crash, sanitizer report, leak, out-of-memory (over SQ_FUZZ_RSS_MB, default 2048)
# or timeout (a single input over SQ_FUZZ_TIMEOUT, default 25 s: ASan on a loaded machine is slow).  Crashing inputs land in
# build-fuzz/crashes/<harness>/: minimise one (fuzz_<harness> -minimize_crash=1),
# fix the reader and commit the input to tests/fuzz/regressions/<harness>/ so that
# ctest replays it (fuzz/replay_<harness>).
#
#   SQ_FUZZ_KEEP_GOING=1   fork mode: keep fuzzing after a crash (long runs that
#                          collect every crash); still exits 1 when one was found
#   SQ_FUZZ_JOBS=N         parallel fuzzing processes per harness (default 1)
# One line per harness is printed at the end: executions, coverage (edges),
# features, corpus size and crashes; logs are in build-fuzz/logs/<harness>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: scripts/fuzz.sh SECONDS [HARNESS...]}
shift || true
build=${SQ_FUZZ_BUILD_DIR:-build-fuzz}
rss=${SQ_FUZZ_RSS_MB:-2048}
jobs=${SQ_FUZZ_JOBS:-1}

command -v clang >/dev/null || { echo "fuzz.sh: clang is missing (scripts/setup.sh installs it)" >&2; exit 2; }
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSQUEEZE_FUZZ=ON >/dev/null
fi
cmake --build "$build" -j"${SQ_FUZZ_BUILD_JOBS:-2}" --target fuzz_all >/dev/null

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do h=$(basename "$f" .c); harnesses+=("${h#fuzz_}"); done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
mkdir -p "$build/logs" "$build/scratch"
export TMPDIR=$(cd "$build/scratch" && pwd)
status=0
summary=()
for h in "${harnesses[@]}"; do
  bin=$build/fuzz_$h
  [ -x "$bin" ] || { echo "fuzz.sh: no harness $h ($bin)" >&2; exit 2; }
  corpus=$build/corpus/$h
  crashes=$build/crashes/$h
  mkdir -p "$corpus" "$crashes"
  # seeds: the globs of tests/fuzz/seeds.txt (nullglob: a missing fixture is not an error)
  shopt -s nullglob
  globs=$(awk -v h="$h" '$1 == h { $1 = ""; print }' tests/fuzz/seeds.txt)
  for g in $globs; do for f in $g; do [ -f "$f" ] && cp -n "$f" "$corpus/" 2>/dev/null || true; done; done
  for f in tests/fuzz/regressions/"$h"/*; do [ -f "$f" ] && cp -n "$f" "$corpus/" || true; done
  shopt -u nullglob
  args=(-max_total_time="$seconds" -rss_limit_mb="$rss" -malloc_limit_mb="$rss" -timeout="${SQ_FUZZ_TIMEOUT:-25}" -max_len=65536
        -print_final_stats=1 -artifact_prefix="$crashes/")
  [ -f "tests/fuzz/dict/$h.dict" ] && args+=(-dict="tests/fuzz/dict/$h.dict")
  # a fixed seed (CI sets one) replays the same exploration from the committed seeds, so a red smoke
  # run is a finding that reproduces; long runs by hand leave it unset for a random one
  if [ -n "${SQ_FUZZ_SEED:-}" ]; then args+=(-seed="$SQ_FUZZ_SEED"); fi
  if [ "${SQ_FUZZ_KEEP_GOING:-0}" = 1 ]; then
    args+=(-fork="$jobs" -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  elif [ "$jobs" -gt 1 ]; then
    args+=(-fork="$jobs")
  fi
  log=$build/logs/$h.log
  echo "[fuzz] $h: ${seconds}s, corpus $corpus ($(ls "$corpus" | wc -l) inputs)" >&2
  rc=0
  "$bin" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  runs=$(grep -oE '(stat::number_of_executed_units: [0-9]+|Done [0-9]+ runs)' "$log" | tail -1 | grep -oE '[0-9]+' || echo "?")
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || echo "?")
  ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || echo "?")
  corp=$(grep -oE 'corp: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || echo "?")
  [ "$runs" = "?" ] && runs=$(grep -oE '^#[0-9]+' <<<"$last" | tr -d '#' || echo "?")
  found=$(find "$crashes" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' -o -name 'timeout-*' \) | wc -l)
  if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
    status=1
    grep -E 'ERROR: |SUMMARY: |runtime error' "$log" | head -5 >&2 || true
  fi
  summary+=("$(printf '%-14s %4ss  executions %-10s coverage %-6s features %-7s corpus %-6s crashes/leaks/ooms/timeouts %s  exit %s' \
    "$h" "$seconds" "$runs" "$cov" "$ft" "$corp" "$found" "$rc")")
done
printf '%s\n' "${summary[@]}"
exit $status
