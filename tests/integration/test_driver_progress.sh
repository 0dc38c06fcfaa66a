#!/usr/bin/env bash
# test_driver_progress.sh - `squeeze run` on an evaluate-only config (no
# calibration data, no recipe):
#  1. check accepts it; run runs exactly inspect, evaluate/baseline and the
#     report, which says there is nothing to recommend; status exits 0
#  2. the running stage's progress: plain lines with percent and ETA when stderr
#     is a file, one live line rewritten with \r on a terminal (a pty from
#     `script`), read from the stage's progress channel (<instance>/progress),
#     which is gone once the stage ends
#  3. --run NAME: the same config in another run folder, side by side
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SQUEEZE="$BUILD/squeeze"
W=$WORK
# progress from the first poll (the default waits 1 s, so that short stages print nothing)
export SQUEEZE_PROGRESS_AFTER=0
cat > "$W/eval.yaml" <<YAML
run: eval
output_root: $W/results
model:
  checkpoint: $DATA/bundled/itera_tiny_bytes.pt
data:
  evaluation: {path: $DATA/bundled/austen_val.txt, end: 0.3}  # about 470 windows: several seconds here
evaluate:
  window_length: 128
YAML

# 1. evaluate-only
"$SQUEEZE" check "$W/eval.yaml" > "$W/check.out" 2>&1 || { cat "$W/check.out"; bad "check refused the evaluate-only config"; }
grep -q "evaluate-only run" "$W/check.out" || bad "check does not say the run is evaluate-only"
"$SQUEEZE" run "$W/eval.yaml" > "$W/run.out" 2> "$W/run.err" || { cat "$W/run.err"; bad "run failed"; }
ran=$(grep -o 'squeeze: [a-z/0-9.-]* *running' "$W/run.err" | awk '{print $2}' | tr '\n' ' ')
[ "$ran" = "inspect evaluate/baseline report " ] && ok "evaluate-only run: $ran" || bad "ran '$ran'"
grep -q "Evaluation only: this run compresses nothing" "$W/results/eval/report/report.md" \
  && ok "the report says there is nothing to recommend" || bad "report: $(grep -A2 Recommendation "$W/results/eval/report/report.md")"
code=0
"$SQUEEZE" status "$W/eval.yaml" > "$W/status.out" 2>&1 || code=$?
[ "$code" = 0 ] && grep -q '^3 done' "$W/status.out" && ok "status: 3 done, exit 0" || { cat "$W/status.out"; bad "status exit $code"; }

# 2. progress: not a terminal (the run above, stderr a file)
plain=$(grep -cE '^squeeze: evaluate/baseline +windows [0-9]+/[0-9]+ \([0-9]+%\), [0-9:]+ elapsed, ETA [0-9:?]+$' "$W/run.err" || true)
[ "$plain" -ge 1 ] && ok "plain progress lines: $plain" || { cat "$W/run.err"; bad "no plain progress line"; }
grep -q $'\r' "$W/run.err" && bad "a carriage return in a log"
[ ! -e "$W/results/eval/evaluate/baseline/progress" ] || bad "the progress file outlived the stage"
# on a terminal: one line rewritten in place, cleared when the stage ends
script -qec "'$SQUEEZE' run '$W/eval.yaml' --run eval-tty" /dev/null > "$W/tty.out" 2>&1 || { cat "$W/tty.out"; bad "run on a pty failed"; }
live=$(grep -o $'\rsqueeze: evaluate/baseline *windows [0-9]*/[0-9]* ([0-9]*%), [0-9:]* elapsed, ETA [0-9:?]*\e\[K' "$W/tty.out" | wc -l)
[ "$live" -ge 1 ] && ok "live line redrawn $live time(s) on a terminal" || { cat -A "$W/tty.out" | head; bad "no live line"; }
all=$(grep -o 'windows [0-9]*/[0-9]* (' "$W/tty.out" | wc -l)
[ "$all" = "$live" ] || bad "$all progress texts on the terminal, only $live of them live (\\r ... \\e[K)"
grep -q 'evaluate/baseline *done in' "$W/tty.out" || bad "no done line after the live line"

# 3. --run: another folder for the same config; the first one untouched
[ -s "$W/results/eval-tty/evaluate/baseline/evaluation.h5" ] && ok "--run eval-tty wrote results/eval-tty/" || bad "--run: no results/eval-tty"
"$SQUEEZE" plan "$W/eval.yaml" --run eval-tty | grep -q "in $W/results/eval-tty" || bad "plan --run does not show the other folder"
code=0
"$SQUEEZE" plan "$W/eval.yaml" --run ../up > "$W/bad-run.out" 2>&1 || code=$?
[ "$code" = 2 ] && grep -q "is not a run name" "$W/bad-run.out" && ok "--run ../up refused" || { cat "$W/bad-run.out"; bad "--run ../up: exit $code"; }

sq_finish "test_driver_progress: all passed"
