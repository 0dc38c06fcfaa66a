#!/usr/bin/env bash
# test_check.sh - `squeeze check` catches each config in tests/data/broken-configs/
# (every one a failure the seed project met on the cluster) in under 5 seconds,
# with a message naming the problem (the file's "# expect:" lines), exits
# nonzero for each and 0 for good.yaml; a missing stage program is caught too.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SQUEEZE="$BUILD/squeeze"
CATALOGUE="$DATA/broken-configs"

ms_now() { date +%s%N | cut -c1-13; }

# good*.yaml: the run can go
for good in "$CATALOGUE"/good*.yaml; do
  start=$(ms_now)
  if ! "$SQUEEZE" check "$good" > "$WORK/good.out" 2>&1; then
    cat "$WORK/good.out"; bad "$(basename "$good") should pass check"
  fi
  grep -q "0 problems" "$WORK/good.out" || bad "$(basename "$good"): no '0 problems' line"
  while IFS= read -r want; do
    grep -qF -- "$want" "$WORK/good.out" || { bad "$(basename "$good"): output lacks '$want'"; cat "$WORK/good.out"; }
  done < <(sed -n 's/^# expect-note: //p' "$good")
  echo "$(basename "$good"): exit 0 in $(( $(ms_now) - start )) ms"
done

count=0
printf '%-34s %5s %8s  %s\n' CONFIG EXIT MS FIRST-ERROR
for config in "$CATALOGUE"/[0-9][0-9]-*.yaml; do
  name=$(basename "$config")
  count=$((count + 1))
  start=$(ms_now)
  set +e
  timeout 10 "$SQUEEZE" check "$config" > "$WORK/out" 2>&1
  code=$?
  set -e
  ms=$(( $(ms_now) - start ))
  printf '%-34s %5d %8d  %s\n' "$name" "$code" "$ms" "$(grep -m1 '^error:' "$WORK/out" | cut -c1-110)"
  [ "$code" -ne 0 ] || bad "$name: check exited 0"
  [ "$code" -ne 124 ] || bad "$name: check hung"
  [ "$ms" -lt 5000 ] || bad "$name: took $ms ms (limit 5000)"
  expectations=0
  while IFS= read -r want; do
    expectations=$((expectations + 1))
    grep -qF -- "$want" "$WORK/out" || { bad "$name: output lacks '$want'"; cat "$WORK/out"; }
  done < <(sed -n 's/^# expect: //p' "$config")
  [ "$expectations" -gt 0 ] || bad "$name has no '# expect:' line"
  want_errors=$(sed -n 's/^# expect-errors: //p' "$config")
  if [ -n "$want_errors" ]; then # one message per distinct problem
    got_errors=$(grep -c '^error:' "$WORK/out" || true)
    [ "$got_errors" = "$want_errors" ] || { bad "$name: $got_errors error lines, expected $want_errors"; cat "$WORK/out"; }
  fi
done
[ "$count" -ge 12 ] || bad "only $count broken configs (want at least 12)"

# a stage program that is neither next to squeeze nor on PATH
mkdir -p "$WORK/bin"
cp "$SQUEEZE" "$WORK/bin/squeeze"
for stage in inspect calibrate evaluate report; do ln -s "$BUILD/squeeze-$stage" "$WORK/bin/squeeze-$stage"; done
start=$(ms_now)
set +e
PATH=/usr/bin:/bin "$WORK/bin/squeeze" check "$CATALOGUE/good.yaml" > "$WORK/out" 2>&1
code=$?
set -e
printf '%-34s %5d %8d  %s\n' "(no squeeze-compress)" "$code" "$(( $(ms_now) - start ))" "$(grep -m1 '^error:' "$WORK/out" | cut -c1-110)"
[ "$code" -ne 0 ] || bad "missing squeeze-compress: check exited 0"
grep -q "missing executable squeeze-compress" "$WORK/out" || { bad "missing squeeze-compress not named"; cat "$WORK/out"; }

# check is the gate of run, submit and resume: a config with a misspelled checkpoint stops each of them
# before anything runs or is queued (no run folder, no sbatch call), and --no-check skips the gate.
sed "s|output_root: .*|output_root: $WORK/gate|" "$CATALOGUE/03-missing-checkpoint.yaml" > "$WORK/gate.yaml"
for command in run submit resume; do
  set +e
  "$SQUEEZE" $command "$WORK/gate.yaml" > "$WORK/gate.out" 2> "$WORK/gate.err"
  code=$?
  set -e
  [ "$code" = 2 ] || bad "squeeze $command with a missing checkpoint: exit $code, expected 2"
  grep -q "squeeze: check: error: .*model.checkpoint" "$WORK/gate.err" || { bad "squeeze $command: no check error"; cat "$WORK/gate.err"; }
  grep -q "squeeze $command: stopped before anything ran or was queued" "$WORK/gate.err" \
    || { bad "squeeze $command does not say it stopped before anything ran"; cat "$WORK/gate.err"; }
  [ ! -e "$WORK/gate" ] || bad "squeeze $command wrote $WORK/gate although check failed"
done
set +e
"$SQUEEZE" run "$WORK/gate.yaml" --no-check > "$WORK/gate.out" 2> "$WORK/gate.err"
code=$?
set -e
grep -q "squeeze: check:" "$WORK/gate.err" && bad "run --no-check still ran the check"
[ -e "$WORK/gate" ] || bad "run --no-check did not start the run (exit $code)"
echo "check gates run, submit and resume (--no-check skips it)"

sq_finish
echo "all $count broken configs caught"
