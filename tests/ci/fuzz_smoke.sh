#!/usr/bin/env bash
# fuzz_smoke.sh HARNESS - CI's short fuzzing run of one harness (scripts/fuzz.sh)
# for SQ_FUZZ_SMOKE_SECONDS (default 30) under ASan+UBSan; fails on any crash,
# sanitizer report, leak, out-of-memory or timeout. The seed is fixed (SQ_FUZZ_SEED, default 1).
set -euo pipefail
SRC=${SQ_SOURCE_DIR:?set SQ_SOURCE_DIR}
cd "$SRC"
export SQ_FUZZ_SEED=${SQ_FUZZ_SEED:-1}
exec scripts/fuzz.sh "${SQ_FUZZ_SMOKE_SECONDS:-30}" "$1"
