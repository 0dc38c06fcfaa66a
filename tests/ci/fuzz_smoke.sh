#!/usr/bin/env bash
# fuzz_smoke.sh HARNESS - CI's short fuzzing run of one harness (scripts/fuzz.sh)
# for SQ_FUZZ_SMOKE_SECONDS (default 20) under ASan+UBSan; fails on any crash,
# sanitizer report, leak, out-of-memory or timeout.
set -euo pipefail
SRC=${SQ_SOURCE_DIR:?set SQ_SOURCE_DIR}
cd "$SRC"
exec scripts/fuzz.sh "${SQ_FUZZ_SMOKE_SECONDS:-20}" "$1"
