#!/usr/bin/env bash
# test_driver_slurm_check.sh - the cluster's facts, against the real local Slurm
# (slurm/start-local-slurm.sh):
#  1. `squeeze check` catches each config of tests/data/broken-configs/slurm/
#     (tasks above the partition's CPUs, a GPU gres on a partition without
#     GPUs, an unknown partition, cpus_per_task above a node, memory above a
#     node) with the config's line:column, once, and passes good-*.yaml (an
#     account it cannot verify is a warning; sbatch --test-only accepts every
#     script);
#  2. as the gate of submit: nothing reaches sbatch;
#  3. a submit that fails part-way (--no-check, the baseline's partition does
#     not exist) cancels the jobs it had queued and says which;
#  4. per-stage resources reach each stage's #SBATCH lines (submit --dry-run).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SQUEEZE="$BUILD/squeeze"
CATALOGUE="$DATA/broken-configs/slurm"
[ "$(id -u)" = 0 ] || { echo "FAIL: the local Slurm needs root"; exit 1; }
"$SRC/slurm/start-local-slurm.sh"
W=$WORK
chmod 755 "$W"
export SQUEEZE_RECIPES="$SRC/configs/recipes"
sq_log_sbatch
sq_cleanup_more() { # before lib.sh removes $WORK
  for cfg in "$W"/*.yaml; do [ -e "$cfg" ] && "$SQUEEZE" cancel "$cfg" >/dev/null 2>&1 || true; done
}
# a copy that runs from $W: absolute data paths, its own output folder
copy_config() {  # copy_config SOURCE NAME
  sed -e "s#\.\./\.\./#$DATA/#g" -e "s#^output_root:.*#output_root: $W/results#" -e "s#^run:.*#run: $2#" "$1" > "$W/$2.yaml"
}

# 1. the catalogue
for good in "$CATALOGUE"/good-*.yaml; do
  name=$(basename "$good")
  "$SQUEEZE" check "$good" > "$W/out" 2>&1 || { cat "$W/out"; bad "$name should pass check"; }
  grep -q "0 problems" "$W/out" || bad "$name: no '0 problems' line"
  while IFS= read -r want; do
    grep -qF -- "$want" "$W/out" || { bad "$name: output lacks '$want'"; cat "$W/out"; }
  done < <(sed -n 's/^# expect-note: //p' "$good")
done
count=0
for config in "$CATALOGUE"/[0-9][0-9]-*.yaml; do
  name=$(basename "$config")
  count=$((count + 1))
  start=$(date +%s%N)
  code=0
  timeout 20 "$SQUEEZE" check "$config" > "$W/out" 2>&1 || code=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf '%-28s exit %d in %5d ms: %s\n' "$name" "$code" "$ms" "$(grep -m1 '^error:' "$W/out" | sed "s#$CATALOGUE/##" | cut -c1-120)"
  [ "$code" = 2 ] || { cat "$W/out"; bad "$name: check exited $code, expected 2"; }
  [ "$ms" -lt 5000 ] || bad "$name: took $ms ms (limit 5000)"
  while IFS= read -r want; do
    grep -qF -- "$want" "$W/out" || { bad "$name: output lacks '$want'"; cat "$W/out"; }
  done < <(sed -n 's/^# expect: //p' "$config")
  want_errors=$(sed -n 's/^# expect-errors: //p' "$config")
  got_errors=$(grep -c '^error:' "$W/out" || true)
  [ -z "$want_errors" ] || [ "$got_errors" = "$want_errors" ] || { cat "$W/out"; bad "$name: $got_errors error lines, expected $want_errors"; }
done
[ "$count" -ge 5 ] || bad "only $count Slurm configs in the catalogue"

# 2. the gate of submit: the unknown partition stops it before any sbatch call
copy_config "$CATALOGUE/03-unknown-partition.yaml" gate
: > "$W/sbatch.log"
code=0
"$SQUEEZE" submit "$W/gate.yaml" > "$W/gate.out" 2>&1 || code=$?
[ "$code" = 2 ] && grep -q "stopped before anything ran or was queued" "$W/gate.out" && grep -q "slurm.partition 'debgu'" "$W/gate.out" \
  && ok "submit gated by the cluster check (exit 2)" || { cat "$W/gate.out"; bad "submit was not gated (exit $code)"; }
grep -q -- '--test-only' "$W/sbatch.log" && ok "the gate asked sbatch --test-only" || bad "no sbatch --test-only call"
! grep -v -- '--test-only' "$W/sbatch.log" && ok "nothing submitted" || bad "sbatch submitted a job"

# 3. part-way: inspect and calibrate are queued, then the baseline's sbatch fails
: > "$W/sbatch.log"
code=0
"$SQUEEZE" submit "$W/gate.yaml" --no-check > "$W/partial.out" 2>&1 || code=$?
cat "$W/partial.out"
[ "$code" = 4 ] || bad "a failed submit exited $code, expected 4"
grep -q "sbatch failed for baseline" "$W/partial.out" || bad "the failed sbatch is not named"
grep -q "not submitted: baseline, compress, evaluate, report" "$W/partial.out" || bad "what was not submitted is not said"
line=$(grep "cancelled the 2 job(s) this submit had queued before the failure" "$W/partial.out" || true)
[ -n "$line" ] && ok "the 2 queued jobs were cancelled and named" || bad "no cancellation line"
ids=$(echo "$line" | grep -o 'job [0-9]*' | awk '{print $2}' | paste -sd, -)
[ -n "$ids" ] || bad "no job ids in '$line'"
if [ -n "$ids" ]; then
  left=$(squeue -h -j "$ids" -t PENDING,RUNNING -o %i 2>/dev/null || true)
  [ -z "$left" ] && ok "nothing of the submit is left queued (squeue -j $ids)" || bad "still queued: $left"
fi

# 4. per-stage resources in each stage's script
copy_config "$CATALOGUE/good-account.yaml" resources
"$SQUEEZE" submit "$W/resources.yaml" --dry-run > "$W/dry.out" 2>&1 || { cat "$W/dry.out"; bad "dry run failed"; }
S="$W/results/resources/slurm"
grep -q '^#SBATCH --cpus-per-task=2$' "$S/compress.sbatch" && ! grep -q 'cpus-per-task' "$S/evaluate.sbatch" \
  && ok "cpus_per_task {compress: 2}: compress only" || bad "cpus_per_task lines"
for script in inspect calibrate baseline compress evaluate report; do
  grep -q '^#SBATCH --partition=debug$' "$S/$script.sbatch" && grep -q '^#SBATCH --account=proj42$' "$S/$script.sbatch" \
    || bad "$script.sbatch lacks the inherited partition and account"
done

sq_finish "test_driver_slurm_check: all passed"
