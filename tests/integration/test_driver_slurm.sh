#!/usr/bin/env bash
# test_driver_slurm.sh - `squeeze submit` against a real Slurm (slurmctld +
# slurmd + munge on localhost, started by slurm/start-local-slurm.sh):
#  1. the demo config submitted (evaluate with 2 MPI ranks under mpirun in the
#     job, and again under srun --mpi=pmix) completes with the same evaluation
#     numbers as a local run
#  2. a 16-variant sweep takes at most 6 sbatch calls (counted by a PATH wrapper
#     that logs each call and execs the real sbatch) and completes
#  3. MaxArraySize splits the arrays (dry run with SQUEEZE_MAX_ARRAY_SIZE=6)
#  4. a fault in one variant: status shows it failed with exit 4 and its log,
#     its evaluation cancelled; resume resubmits only that variant and the report
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SQUEEZE="$BUILD/squeeze"
[ "$(id -u)" = 0 ] || { echo "FAIL: the local Slurm needs root"; exit 1; }
"$SRC/slurm/start-local-slurm.sh"
chmod 755 "$WORK"
# The recipes as they are now.  The compress keys include the recipe file's
# content, so a colleague editing configs/recipes/ during the minute this test
# runs used to change the plan under the queued jobs: status then (rightly) saw
# stale instances, and resume resubmitted them.  Bare recipe names resolve
# through $SQUEEZE_RECIPES first, in the driver and in the jobs (sbatch passes
# the environment on).
cp -r "$SRC/configs/recipes" "$WORK/recipes"
export SQUEEZE_RECIPES="$WORK/recipes"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader \
  OMPI_MCA_plm_rsh_agent=false

# every sbatch call is logged, then the real sbatch runs
sq_log_sbatch
sq_cleanup_more() { # before lib.sh removes $WORK
  for cfg in "$WORK"/*.yaml; do "$SQUEEZE" cancel "$cfg" >/dev/null 2>&1 || true; done
}

make_config() {  # make_config NAME [sed expressions...]
  local name=$1; shift
  sed -e "s#\.\./tests/#$SRC/tests/#g" -e "s#^output_root:.*#output_root: $WORK/results#" -e "s#^run:.*#run: $name#" \
    "$@" "$SRC/configs/demo.yaml" > "$WORK/$name.yaml"
}
wait_run() {  # wait_run CONFIG SECONDS: until nothing is pending or running
  local deadline=$(( $(date +%s) + $2 ))
  while :; do
    local code=0
    "$SQUEEZE" status "$1" > "$WORK/last-status.out" 2>&1 || code=$?
    # 0 done, 4 failed or cancelled, 5 still pending or running, 6 not done and nothing queued
    case $code in 0|4|5|6) ;; *) cat "$WORK/last-status.out"; return 1 ;; esac
    if grep -qE '^[0-9]+ done, 0 running, 0 pending' "$WORK/last-status.out"; then
      [ "$code" != 5 ] || { cat "$WORK/last-status.out"; echo "status exited 5 with nothing running"; return 1; }
      return 0
    fi
    # while stages run: 5, or 4 when one has already failed (a failure needs action whatever else runs)
    [ "$code" = 5 ] || [ "$code" = 4 ] || { cat "$WORK/last-status.out"; echo "status exited $code while stages run"; return 1; }
    [ "$(date +%s)" -lt "$deadline" ] || { cat "$WORK/last-status.out"; return 1; }
    sleep 1
  done
}
ppl() {  # ppl RUN_DIR VARIANT: the perplexity attribute as h5dump prints it
  h5dump -a /evaluation/perplexity "$1/evaluate/$2/evaluation.h5" | awk '/\(0\)/ {print $2}'
}

# 1. demo: local reference, then Slurm with 2 ranks for evaluate
# the demo runs calibrate and evaluate on 2 ranks; the local reference uses 1, so
# the comparison also shows that the rank count does not change a number
make_config demo-local -e 's#^  ranks: 2#  ranks: 1#'
make_config demo-slurm
grep -q '^  ranks: 2' "$WORK/demo-slurm.yaml" || bad "the demo config no longer asks for 2 ranks"
grep -q '^  ranks: 2' "$WORK/demo-local.yaml" && bad "the local reference still asks for 2 ranks"
"$SQUEEZE" run "$WORK/demo-local.yaml" > "$WORK/local.out" 2>&1 || { cat "$WORK/local.out"; bad "local run failed"; }
: > "$WORK/sbatch.log"
"$SQUEEZE" submit "$WORK/demo-slurm.yaml" > "$WORK/submit.out" 2>&1 || { cat "$WORK/submit.out"; bad "submit failed"; }
[ -s "$WORK/results/demo-slurm/ledger.json" ] || bad "no ledger.json"
grep -q 'aftercorr:' "$WORK/sbatch.log" && grep -q 'afterany:' "$WORK/sbatch.log" && grep -q 'kill-on-invalid-dep=yes' "$WORK/sbatch.log" \
  && ok "dependencies: aftercorr, afterany, --kill-on-invalid-dep=yes" || { cat "$WORK/sbatch.log"; bad "dependencies"; }
# the same run launched with srun --mpi=pmix instead of mpirun (submitted now, checked below), with
# per-stage resources: the partition inherited from default, cpus_per_task for compress only
make_config demo-srun -e 's#^  array_throttle: 2#  array_throttle: 2\n  launcher: "srun --mpi=pmix"\n  partition: {default: debug, evaluate: debug}\n  cpus_per_task: {compress: 1}#'
"$SQUEEZE" submit "$WORK/demo-srun.yaml" > "$WORK/submit-srun.out" 2>&1 || { cat "$WORK/submit-srun.out"; bad "srun submit failed"; }
wait_run "$WORK/demo-slurm.yaml" 300 || bad "demo on Slurm did not finish"
[ "$(grep -c ' done ' "$WORK/last-status.out")" = 10 ] && ok "demo on Slurm: 10 done" || { cat "$WORK/last-status.out"; bad "demo on Slurm"; }
grep -q "mpirun" "$WORK/results/demo-slurm/evaluate/int8/stage.log" || bad "evaluate did not run under mpirun"
for v in baseline int8 nf4 ssm-mixed; do
  a=$(ppl "$WORK/results/demo-local" "$v"); b=$(ppl "$WORK/results/demo-slurm" "$v")
  if [ -n "$a" ] && [ "$a" = "$b" ]; then ok "perplexity of $v: local $a = Slurm (2 ranks) $b"; else bad "$v: local '$a' vs Slurm '$b'"; fi
done
wait_run "$WORK/demo-srun.yaml" 300 || bad "demo with srun did not finish"
grep -q '^#SBATCH --cpus-per-task=1$' "$WORK/results/demo-srun/slurm/compress.sbatch" \
  && ! grep -q 'cpus-per-task' "$WORK/results/demo-srun/slurm/evaluate.sbatch" \
  && grep -q '^#SBATCH --partition=debug$' "$WORK/results/demo-srun/slurm/report.sbatch" \
  && ok "per-stage resources in the scripts that ran" || bad "per-stage resources not in the scripts"
grep -q "srun --mpi=pmix" "$WORK/results/demo-srun/evaluate/int8/stage.log" || bad "evaluate did not run under srun --mpi=pmix"
ranks=$(h5dump -a /mpi_ranks "$WORK/results/demo-srun/evaluate/int8/evaluation.h5" | awk '/\(0\)/ {print $2}')
[ "$ranks" = 2 ] && ok "srun --mpi=pmix started 2 ranks" || bad "srun run recorded mpi_ranks '$ranks'"
for v in baseline int8; do
  a=$(ppl "$WORK/results/demo-local" "$v"); b=$(ppl "$WORK/results/demo-srun" "$v")
  if [ -n "$a" ] && [ "$a" = "$b" ]; then ok "perplexity of $v: local $a = srun (2 ranks) $b"; else bad "$v: local '$a' vs srun '$b'"; fi
done

# 2. a 16-variant sweep (4 recipes x 4 calibration sizes): at most 6 sbatch calls
make_config sweep16 -e 's#compress.recipe: \[int8, nf4, ssm-mixed\]#compress.recipe: [int8, nf4, ssm-mixed, fp16]\n    calibrate.windows: [4, 5, 6, 7]#' \
  -e 's#array_throttle: 2#array_throttle: 4#'
"$SQUEEZE" plan "$WORK/sweep16.yaml" > "$WORK/plan16.out"
grep -q '(16 variants, 39 stage instances)' "$WORK/plan16.out" || { head -3 "$WORK/plan16.out"; bad "sweep16 is not 16 variants"; }
: > "$WORK/sbatch.log"
"$SQUEEZE" submit "$WORK/sweep16.yaml" > "$WORK/submit16.out" 2>&1 || { cat "$WORK/submit16.out"; bad "sweep16 submit"; }
calls=$(grep -vc -- '--test-only' "$WORK/sbatch.log" || true) # the gate's check asks sbatch --test-only first
[ "$calls" -le 6 ] && ok "16 variants submitted with $calls sbatch calls" || { cat "$WORK/sbatch.log"; bad "$calls sbatch calls"; }
grep -q -- '--array=0-15%4' "$WORK/sbatch.log" && ok "arrays 0-15 throttled %4" || bad "no --array=0-15%4"
wait_run "$WORK/sweep16.yaml" 400 || bad "sweep16 did not finish"
grep -q '^39 done, 0 running, 0 pending, 0 failed, 0 cancelled, 0 stale, 0 missing' "$WORK/last-status.out" \
  && ok "sweep16: all 39 instances done (4 calibrations: calibrate.windows varies)" || { cat "$WORK/last-status.out"; bad "sweep16 not all done"; }

# 2b. squeeze cancel: the stages it stopped are "cancelled" (not "failed exit 0"), status exits 4
make_config cancelled
"$SQUEEZE" submit "$WORK/cancelled.yaml" > "$WORK/submitc.out" 2>&1 || { cat "$WORK/submitc.out"; bad "submit to cancel"; }
"$SQUEEZE" cancel "$WORK/cancelled.yaml" > "$WORK/cancel.out" 2>&1 || { cat "$WORK/cancel.out"; bad "cancel"; }
wait_run "$WORK/cancelled.yaml" 120 || bad "the cancelled run did not settle"
code=0; "$SQUEEZE" status "$WORK/cancelled.yaml" > "$WORK/cancelled-status.out" 2>&1 || code=$?
grep -qE "^[a-z]+ +[^ ]+ +cancelled +job [0-9_]+ CANCELLED" "$WORK/cancelled-status.out" \
  && ! grep -qE " failed +exit 0" "$WORK/cancelled-status.out" && [ "$code" = 4 ] \
  && ok "cancel: the stopped stages show as cancelled (status exit 4)" || { cat "$WORK/cancelled-status.out"; bad "cancelled state (exit $code)"; }

# 3. MaxArraySize splits the arrays into chunks below it
make_config split -e 's#compress.recipe: \[int8, nf4, ssm-mixed\]#compress.recipe: [int8, nf4, ssm-mixed, fp16]\n    calibrate.windows: [4, 5, 6, 7]#'
SQUEEZE_MAX_ARRAY_SIZE=6 "$SQUEEZE" submit "$WORK/split.yaml" --dry-run > "$WORK/dry.out" 2>&1
arrays=$(grep -o -- '--array=[^ ]* [^ ]*/\(compress\|evaluate\)[.0-9]*sbatch' "$WORK/dry.out" | sed 's#/.*/##' | tr '\n' ' ')
[ "$arrays" = "--array=0-5%2 compress.sbatch --array=0-5%2 evaluate.sbatch --array=0-5%2 compress.1.sbatch --array=0-5%2 evaluate.1.sbatch --array=0-3%2 compress.2.sbatch --array=0-3%2 evaluate.2.sbatch " ] \
  && ok "MaxArraySize 6: 16 variants in compress/evaluate arrays 0-5, 0-5, 0-3" || { cat "$WORK/dry.out"; bad "array split: $arrays"; }
grep -q 'offset=12' "$WORK/results/split/slurm/compress.2.sbatch" || bad "third chunk has no offset 12"
grep -q "aftercorr:<compress.2>.*evaluate.2.sbatch" "$WORK/dry.out" && ok "chunk 2 of evaluate pairs with chunk 2 of compress" \
  || bad "chunked evaluate pairing"
[ ! -e "$WORK/results/split/ledger.json" ] || bad "a dry run wrote a ledger"

# 4. fault + resume on Slurm
make_config faulty
: > "$WORK/sbatch.log"
SQUEEZE_FAULT=compress:nf4 "$SQUEEZE" submit "$WORK/faulty.yaml" > "$WORK/submitf.out" 2>&1 || { cat "$WORK/submitf.out"; bad "faulty submit"; }
wait_run "$WORK/faulty.yaml" 300 || bad "faulty run did not settle"
cat "$WORK/last-status.out"
grep -E "^compress +nf4 +failed +exit 4, log $WORK/results/faulty/compress/nf4/stage.log" "$WORK/last-status.out" >/dev/null \
  && ok "Slurm status: compress/nf4 failed, exit 4, log" || bad "Slurm status does not show the failure"
grep -E "^evaluate +nf4 +missing +job [0-9]+_1 cancelled" "$WORK/last-status.out" >/dev/null \
  && ok "evaluate/nf4 cancelled by its failed dependency (aftercorr)" || bad "evaluate/nf4 state"
grep -E "^evaluate +int8 +done" "$WORK/last-status.out" >/dev/null || bad "evaluate/int8 should be done"
: > "$WORK/sbatch.log"
"$SQUEEZE" resume "$WORK/faulty.yaml" > "$WORK/resumef.out" 2>&1 || { cat "$WORK/resumef.out"; bad "resume on Slurm"; }
cat "$WORK/resumef.out"
[ "$(wc -l < "$WORK/sbatch.log")" = 3 ] && grep -q -- '--array=1%2' "$WORK/sbatch.log" \
  && ok "resume: 3 sbatch calls, arrays hold only task 1 (nf4)" || { cat "$WORK/sbatch.log"; bad "resume submissions"; }
wait_run "$WORK/faulty.yaml" 300 || bad "resumed run did not finish"
[ "$(grep -c ' done ' "$WORK/last-status.out")" = 10 ] && ok "faulty run complete after resume" || { cat "$WORK/last-status.out"; bad "after resume"; }
# every attempt's log is kept (stage.log.1 holds the failed one), and the job's slurm/*.out holds the
# same output as stage.log instead of nothing
grep -q "SQUEEZE_FAULT" "$WORK/results/faulty/compress/nf4/stage.log.1" && ! grep -q "SQUEEZE_FAULT" "$WORK/results/faulty/compress/nf4/stage.log" \
  && ok "resume kept the failed attempt's log as stage.log.1" || bad "the failed attempt's log was not kept"
out=$(ls "$WORK"/results/faulty/slurm/compress-*_1.out | tail -1)
[ -s "$out" ] && grep -q "squeeze: compress/nf4 exit 0" "$out" && grep -q "squeeze: compress/nf4 exit 0" "$WORK/results/faulty/compress/nf4/stage.log" \
  && ok "slurm/*.out and stage.log hold the stage's output alike" || { ls -l "$WORK"/results/faulty/slurm/; bad "slurm output empty or different"; }

sq_finish
echo "test_driver_slurm: all checks passed"
