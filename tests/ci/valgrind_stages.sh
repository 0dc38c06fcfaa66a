#!/usr/bin/env bash
# valgrind_stages.sh - memcheck of inspect, compress and a 1-rank evaluate on the
# bundled model: 0 errors and 0 definite leaks in squeeze's code.
#
# Open MPI keeps allocations from MPI_Init that it never frees; those stacks (and
# only those) are suppressed by tests/ci/valgrind-openmpi.supp and Debian's
# openmpi-valgrind.supp.  The run is small (4 evaluation windows of 64 tokens) so
# that it takes about a minute under valgrind.
set -euo pipefail
. "$(dirname "$0")/../integration/lib.sh"
command -v valgrind >/dev/null || { echo "FAIL: valgrind is missing (scripts/setup.sh installs it)"; exit 1; }

austen_config "$WORK/run.yaml" "$DATA/bundled/itera_tiny_bytes.pt" 0.001 0.05
cat >> "$WORK/run.yaml" <<YAML
evaluate:
  window_length: 64
  max_windows: 4
compress:
  recipe: nf4
YAML

SUPP=(--suppressions="$SRC/tests/ci/valgrind-openmpi.supp")
[ -f /usr/share/openmpi/openmpi-valgrind.supp ] && SUPP+=(--suppressions=/usr/share/openmpi/openmpi-valgrind.supp)
memcheck() { # name, command...
  local name=$1
  shift
  local rc=0 errors leaks
  valgrind --num-callers=40 --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite "${SUPP[@]}" "$@" > "$WORK/$name.out" 2> "$WORK/$name.log" || rc=$?
  errors=$(grep -oE 'ERROR SUMMARY: [0-9]+' "$WORK/$name.log" | grep -oE '[0-9]+$' || true)
  leaks=$(grep -oE 'definitely lost: [0-9,]+ bytes' "$WORK/$name.log" | grep -oE '[0-9,]+' | head -1 || true)
  echo "valgrind $name: exit $rc, errors ${errors:-0}, definitely lost ${leaks:-0} bytes"
  if [ "$rc" -ne 0 ]; then
    grep -E '^==[0-9]+==|error' "$WORK/$name.log" | head -60
    echo "FAIL: valgrind $name"
    exit 1
  fi
}

memcheck inspect "$BUILD/squeeze-inspect" "$DATA/bundled/itera_tiny_bytes.pt" --config "$WORK/run.yaml" \
  --out "$WORK/inspect.h5"
memcheck compress "$BUILD/squeeze-compress" --config "$WORK/run.yaml" --model "$WORK/inspect.h5" --out "$WORK/model.h5"
memcheck evaluate "$BUILD/squeeze-evaluate" --config "$WORK/run.yaml" --model "$WORK/model.h5" --out "$WORK/eval.h5"
[ -s "$WORK/eval.h5" ] || { echo "FAIL: evaluate wrote no artifact"; exit 1; }
echo "PASS: valgrind memcheck of inspect, compress and a 1-rank evaluate"
