#!/usr/bin/env bash
# test_driver_local.sh - the local executor on configs/demo.yaml (3 variants):
#  1. check passes; plan lists 10 instances, all missing
#  2. run with SQUEEZE_FAULT=compress:nf4: stops at the failure (exit 4, its log
#     and the command to rerun it) but still writes the report, which lists nf4
#     as FAILED TO RUN with the compress log, and is not marked done; then with
#     --keep-going: status shows compress/nf4 failed with exit 4 and its log, the
#     other variants are done
#  3. resume reruns exactly compress/nf4, evaluate/nf4 and the report, which
#     now shows nf4 evaluated; a later failure (evaluate/int8, its artifact gone)
#     leaves no old report marked done
#  4. a second run on the same folder while one runs is refused (lock)
#  5. changing one variant's option makes only that variant (and the report) stale
#  6. a stage killed with SIGKILL mid-run, and a half-written temporary artifact,
#     never count as done; resume completes the run
#  7. where OpenBLAS falls back to its generic kernels on this CPU, the driver's
#     stages run with OPENBLAS_CORETYPE set (a stage started by hand says so)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SQUEEZE="$BUILD/squeeze"

# the recipes as they are now: a colleague editing configs/recipes/ while the
# test runs must not change the plan keys under it (bare recipe names resolve
# through $SQUEEZE_RECIPES first, in the driver and in the stages)
cp -r "$SRC/configs/recipes" "$WORK/recipes"
export SQUEEZE_RECIPES="$WORK/recipes"
# the demo config with absolute data paths and the run folder in $WORK
sed -e "s#\.\./tests/#$SRC/tests/#g" -e "s#^output_root:.*#output_root: $WORK/results#" \
  "$SRC/configs/demo.yaml" > "$WORK/demo.yaml"
CFG="$WORK/demo.yaml"
RUN="$WORK/results/demo"
state_of() { { "$SQUEEZE" status "$CFG" || true; } | awk -v s="$1" -v v="$2" '$1 == s && $2 == v {print $3}'; }

"$SQUEEZE" check "$CFG" > "$WORK/check.out" || { cat "$WORK/check.out"; bad "check of the demo config failed"; }
"$SQUEEZE" plan "$CFG" > "$WORK/plan.out"
[ "$(grep -c ' missing ' "$WORK/plan.out")" = 10 ] && ok "plan: 10 instances, all missing" || { cat "$WORK/plan.out"; bad "plan"; }

# report_variant VARIANT FIELD: a field of one variant in report.json
report_variant() {
  python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
v = [x for x in d["variants"] if x["name"] == sys.argv[2]]
print(v[0].get(sys.argv[3]) if v else "no-such-variant")' "$RUN/report/report.json" "$1" "$2"
}

# 2. fault on one variant: the run stops there, the report still shows it
set +e
SQUEEZE_FAULT=compress:nf4 "$SQUEEZE" run "$CFG" > "$WORK/run0.out" 2>&1
code=$?
set -e
[ "$code" = 4 ] && ok "faulty run stops with exit 4" || { cat "$WORK/run0.out"; bad "faulty run exit $code"; }
ran=$(grep -o 'squeeze: [a-z/0-9.-]* *running' "$WORK/run0.out" | awk '{print $2}' | tr '\n' ' ')
[ "${ran#* evaluate/baseline compress/int8 evaluate/int8 }" = "compress/nf4 report " ] \
  && ok "stopped at compress/nf4, then wrote the report: $ran" || { cat "$WORK/run0.out"; bad "fail-fast run ran '$ran'"; }
# after the report's lines: the failed stage's log and the exact command to rerun it
sed -n '/report  *written/,$p' "$WORK/run0.out" > "$WORK/run0.end"
grep -q "compress/nf4 FAILED (exit 4); log: $RUN/compress/nf4/stage.log" "$WORK/run0.end" \
  && grep -q "squeeze-compress .*--out $RUN/compress/nf4/model.h5" "$WORK/run0.end" \
  && grep -q "squeeze resume $CFG --stage compress --variant nf4" "$WORK/run0.end" \
  && ok "ends with the log path and the commands to rerun compress/nf4" || { cat "$WORK/run0.out"; bad "no log/rerun at the end"; }
[ -s "$RUN/report/report.json" ] && ok "the report was written despite the failure" || bad "no report after the failure"
[ "$(report_variant nf4 verdict)" = "FAILED TO RUN" ] && [ "$(report_variant nf4 log)" = "$RUN/compress/nf4/stage.log" ] \
  && [ "$(report_variant nf4 failed_stage)" = compress ] && [ "$(report_variant nf4 exit_code)" = 4 ] \
  && ok "report.json: nf4 FAILED TO RUN, compress exit 4, log $RUN/compress/nf4/stage.log" \
  || bad "report.json on nf4: $(report_variant nf4 verdict) / $(report_variant nf4 failed_stage) / $(report_variant nf4 log)"
[ "$(report_variant ssm-mixed verdict)" = "FAILED TO RUN" ] && [ "$(report_variant int8 verdict)" != "FAILED TO RUN" ] \
  && ok "report.json: int8 evaluated, ssm-mixed not run" || bad "report.json int8/ssm-mixed verdicts"
[ ! -e "$RUN/report/plan_key" ] && [ "$(state_of report -)" = missing ] && ok "the incomplete report is not marked done" \
  || bad "a report written with nf4 failed counts as done"
[ "$(state_of compress ssm-mixed)" = missing ] || bad "compress/ssm-mixed ran after the failure without --keep-going"

# --keep-going: the variants that do not need compress/nf4 go on
set +e
SQUEEZE_FAULT=compress:nf4 "$SQUEEZE" run "$CFG" --keep-going > "$WORK/run1.out" 2>&1
code=$?
set -e
[ "$code" = 4 ] && ok "faulty run exits 4" || { cat "$WORK/run1.out"; bad "faulty run exit $code"; }
code=0
"$SQUEEZE" status "$CFG" > "$WORK/status1.out" || code=$?
cat "$WORK/status1.out"
[ "$code" = 4 ] && ok "status exits 4 when a stage failed" || bad "status with a failed stage exited $code, expected 4"
code=0
"$SQUEEZE" status "$CFG" --json > "$WORK/status1.json" || code=$?
/usr/bin/python3 - "$WORK/status1.json" "$RUN" <<'PY' && ok "status --json: the same states, with exit code, log and counts" || bad "status --json"
import json, sys
s, run = json.load(open(sys.argv[1])), sys.argv[2]
by_id = {i["id"]: i for i in s["instances"]}
assert by_id["compress/nf4"]["state"] == "failed" and by_id["compress/nf4"]["exit_code"] == 4, by_id["compress/nf4"]
assert by_id["compress/nf4"]["log"] == f"{run}/compress/nf4/stage.log"
assert by_id["compress/int8"]["state"] == "done" and by_id["compress/int8"]["exit_code"] is None
assert s["counts"]["failed"] == 1 and s["exit_code"] == 4, (s["counts"], s["exit_code"])
PY
[ "$code" = 4 ] || bad "status --json exited $code, expected 4"
grep -E "^compress +nf4 +failed +exit 4, log $RUN/compress/nf4/stage.log" "$WORK/status1.out" >/dev/null \
  && ok "status: compress/nf4 failed with exit 4 and its log" || bad "status does not show the failure"
grep -q "SQUEEZE_FAULT" "$RUN/compress/nf4/stage.log" || bad "the log does not say why it failed"
[ "$(state_of compress int8)/$(state_of evaluate ssm-mixed)" = done/done ] && ok "the other variants are done" \
  || bad "other variants not done"
[ "$(state_of evaluate nf4)/$(state_of report -)" = missing/missing ] || bad "evaluate/nf4 and report should be missing"
grep -q "rerun it by hand" "$WORK/run1.out" || bad "no rerun command printed"
grep -q "evaluate/nf4 *skipped: needs compress/nf4" "$WORK/run1.out" || bad "evaluate/nf4 not skipped"
[ "$(report_variant nf4 verdict)/$(report_variant ssm-mixed verdict)" != "FAILED TO RUN/FAILED TO RUN" ] \
  && [ "$(report_variant nf4 verdict)" = "FAILED TO RUN" ] && ok "--keep-going report: nf4 failed, ssm-mixed evaluated" \
  || bad "--keep-going report verdicts"

# 3. fix (no fault) and resume: exactly that variant's compress + evaluate and the report
"$SQUEEZE" resume "$CFG" > "$WORK/resume1.out" 2>&1 || { cat "$WORK/resume1.out"; bad "resume failed"; }
ran=$(grep -o 'squeeze: [a-z/0-9.-]* *running' "$WORK/resume1.out" | awk '{print $2}' | tr '\n' ' ')
[ "$ran" = "compress/nf4 evaluate/nf4 report " ] && ok "resume ran: $ran" || bad "resume ran '$ran'"
[ "$(grep -c ' done ' <("$SQUEEZE" status "$CFG"))" = 10 ] && ok "all 10 done" || bad "not all done after resume"
"$SQUEEZE" status "$CFG" > /dev/null && ok "status exits 0 when every stage is done" || bad "status exited $? with all done"
"$SQUEEZE" plan "$CFG" --json | /usr/bin/python3 -c '
import json, sys
p = json.load(sys.stdin)
assert len(p["instances"]) == 10 and all(i["state"] == "done" and len(i["key"]) == 64 for i in p["instances"]), p
' && ok "plan --json: 10 instances with their keys and states" || bad "plan --json"
[ -s "$RUN/report/report.md" ] || bad "no report.md"
[ "$(report_variant nf4 verdict)" != "FAILED TO RUN" ] && [ "$(report_variant nf4 source)" = "$RUN/evaluate/nf4/evaluation.h5" ] \
  && ok "after the fix: the report shows nf4 evaluated ($(report_variant nf4 verdict))" \
  || bad "after resume the report still shows nf4 as $(report_variant nf4 verdict)"
[[ "$(cat "$RUN/report/plan_key" 2>/dev/null)" == "$("$SQUEEZE" plan "$CFG" | awk '$1 == "report" {print $4}')"?* ]] \
  && ok "the complete report is marked done" || bad "report/plan_key"

# a later failure leaves no old report marked done: evaluate/int8's artifact
# goes, its rerun fails; the report is rewritten without it and not done
mv "$RUN/evaluate/int8/evaluation.h5" "$WORK/int8-evaluation.h5"
set +e
SQUEEZE_FAULT=evaluate:int8 "$SQUEEZE" resume "$CFG" > "$WORK/resume-int8.out" 2>&1
code=$?
set -e
[ "$code" = 4 ] && [ "$(state_of report -)" = missing ] && [ ! -e "$RUN/report/plan_key" ] \
  && [ "$(report_variant int8 verdict)" = "FAILED TO RUN" ] && [ "$(report_variant int8 log)" = "$RUN/evaluate/int8/stage.log" ] \
  && ok "evaluate/int8 failed later: report rewritten with int8 FAILED TO RUN, not done" \
  || { cat "$WORK/resume-int8.out"; bad "after a later failure: exit $code, report $(state_of report -), int8 $(report_variant int8 verdict)"; }
mv "$WORK/int8-evaluation.h5" "$RUN/evaluate/int8/evaluation.h5"
"$SQUEEZE" resume "$CFG" > "$WORK/resume-report.out" 2>&1 || { cat "$WORK/resume-report.out"; bad "resume of the report failed"; }
ran=$(grep -o 'squeeze: [a-z/0-9.-]* *running' "$WORK/resume-report.out" | awk '{print $2}' | tr '\n' ' ')
[ "$ran" = "report " ] && [ "$(grep -c ' done ' <("$SQUEEZE" status "$CFG"))" = 10 ] \
  && ok "with the artifact back, resume reran only the report: all 10 done" || bad "resume ran '$ran'"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d['instances']) == 10" "$RUN/plan.json" \
  || bad "plan.json"

# 5. change one variant's option: only that variant (and the report) go stale
sed -e 's#compress.recipe: \[int8, nf4, ssm-mixed\]#compress.recipe: [int8, nf4-double, ssm-mixed]\n  names: [int8, nf4, ssm-mixed]#' \
  "$CFG" > "$WORK/demo2.yaml.tmp" && mv "$WORK/demo2.yaml.tmp" "$CFG"
"$SQUEEZE" plan "$CFG" > "$WORK/plan2.out"
stale=$(awk '$3 == "stale" {print $1 "/" $2}' "$WORK/plan2.out" | tr '\n' ' ')
[ "$stale" = "compress/nf4 evaluate/nf4 report/- " ] && ok "stale after changing nf4's recipe: $stale" \
  || { cat "$WORK/plan2.out"; bad "stale set '$stale'"; }
[ "$(grep -c ' done ' "$WORK/plan2.out")" = 7 ] || bad "the other 7 instances should stay done"

# 4 + 6. kill the evaluate stage of nf4 with SIGKILL while it runs; meanwhile a
# second run on the folder is refused
"$SQUEEZE" resume "$CFG" > "$WORK/resume2.out" 2>&1 &
driver=$!
stage_pid=""
for _ in $(seq 600); do
  if grep -q 'evaluate/nf4 *running' "$WORK/resume2.out" 2>/dev/null; then
    stage_pid=$(pgrep -P "$driver" || true)
    [ -n "$stage_pid" ] && break
  fi
  sleep 0.02
done
set +e
"$SQUEEZE" run "$CFG" > "$WORK/second.out" 2>&1
second=$?
set -e
[ "$second" = 2 ] && grep -q "in use by another squeeze command" "$WORK/second.out" && ok "a second run is refused" \
  || { cat "$WORK/second.out"; bad "second concurrent run not refused (exit $second)"; }
if [ -n "$stage_pid" ]; then
  kill -KILL "$stage_pid" 2>/dev/null || true
fi
set +e
wait "$driver"
code=$?
set -e
[ -n "$stage_pid" ] || bad "never saw the evaluate/nf4 stage running"
[ "$code" = 4 ] && ok "driver reports the killed stage (exit 4)" || { cat "$WORK/resume2.out"; bad "driver exit $code"; }
grep -q "evaluate/nf4 FAILED (exit 137)" "$WORK/resume2.out" && ok "killed stage: exit 137" || bad "no exit 137 reported"
[ "$(state_of evaluate nf4)" != done ] && ok "killed evaluate/nf4 is not done ($(state_of evaluate nf4))" \
  || bad "a killed stage counts as done"
# what a kill during the write leaves: a half temporary file next to the artifact
head -c 3000 "$RUN/evaluate/int8/evaluation.h5" > "$RUN/evaluate/nf4/evaluation.h5.tmp.99999"
[ "$(state_of evaluate nf4)" != done ] || bad "a half-written temporary counts as done"
"$SQUEEZE" resume "$CFG" > "$WORK/resume3.out" 2>&1 || { cat "$WORK/resume3.out"; bad "resume after the kill failed"; }
ran=$(grep -o 'squeeze: [a-z/0-9.-]* *running' "$WORK/resume3.out" | awk '{print $2}' | tr '\n' ' ')
[ "$ran" = "evaluate/nf4 report " ] && ok "resume after the kill ran: $ran" || bad "resume after kill ran '$ran'"
[ ! -e "$RUN/evaluate/nf4/evaluation.h5.tmp.99999" ] || bad "the temporary was not removed"
[ "$(grep -c ' done ' <("$SQUEEZE" status "$CFG"))" = 10 ] && ok "all done after resume" || bad "not all done"

# 7. OpenBLAS's core (cli/blas_core.h): where this machine's OpenBLAS falls back to its generic
# kernels, a stage started by hand says what to set, and the driver sets it for its stages
hint="OpenBLAS runs its generic"
env -u OPENBLAS_CORETYPE "$BUILD/squeeze-calibrate" --config "$WORK/none.yaml" --model "$WORK/none.pt" \
  --out "$WORK/none.h5" > "$WORK/blas_calibrate.out" 2>&1 || true
env -u OPENBLAS_CORETYPE "$BUILD/squeeze-inspect" --model "$WORK/none.pt" --out "$WORK/none.h5" \
  > "$WORK/blas_inspect.out" 2>&1 || true
if grep -q "$hint" "$WORK/blas_calibrate.out"; then
  if grep -q "$hint" "$WORK/blas_inspect.out"; then bad "squeeze-inspect, which runs no BLAS, speaks of OpenBLAS's core"; fi
  if grep -l "$hint" "$RUN"/*/*/stage.log; then bad "a stage the driver started ran OpenBLAS's generic kernels"; fi
  ok "OpenBLAS falls back to its generic kernels here: the driver's stages ran with OPENBLAS_CORETYPE set"
else
  ok "OpenBLAS runs a core of its own choice on this CPU: nothing to set"
fi

sq_finish
echo "test_driver_local: all checks passed"
