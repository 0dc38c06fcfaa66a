#!/usr/bin/env bash
# test_kill_anywhere.sh - `squeeze run configs/demo.yaml` survives SIGKILL at any moment.
#
#  1. a clean run of the demo gives the reference report.json
#  2. SQ_KILL_MOMENTS times (default 1): run (or resume) the same config in a second run
#     folder and SIGKILL the driver at a pseudo-random moment (seeded by SQ_KILL_SEED,
#     printed); after each kill every stage instance that `squeeze plan` counts as done
#     must open and verify: its kind and schema version, the planned key, and the sha256
#     of every input it records
#  3. the same number of kills of a running stage process (mpirun or a stage, chosen
#     among the driver's descendants), each followed by the same verification
#  4. the run then completes, and report.json gives the clean run's numbers (perplexity,
#     NLL, tokens, bytes, ratios, KL, verdicts; not the timings)
#  5. two drivers on one run folder at once: the second is refused, the first completes
#  6. a full disk (a 24 MB tmpfs holding the run folder of 5) while compress, then evaluate
#     run again (their recipe, then the evaluate section changed): a clean error
#     (exit 4, the stage named), the stage not counted done, no temporary file left;
#     after space is freed, resume completes
# scripts/test.sh (CI) runs it with SQ_KILL_MOMENTS=10 and a seed from the clock; the default
# suite with 1 moment each (2 kills), seed 1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SQUEEZE="$BUILD/squeeze"
MOMENTS=${SQ_KILL_MOMENTS:-1}
SEED=${SQ_KILL_SEED:-1}
MNT="$WORK/disk"
sq_cleanup_more() { # before lib.sh removes $WORK
  mountpoint -q "$MNT" 2>/dev/null && umount "$MNT" 2>/dev/null || true
}
echo "kill moments: $MOMENTS driver kills and $MOMENTS stage kills, seed $SEED (SQ_KILL_SEED=$SEED reproduces)"
RANDOM=$SEED

cp -r "$SRC/configs/recipes" "$WORK/recipes"
export SQUEEZE_RECIPES="$WORK/recipes"
make_config() { # output_root, file
  sed -e "s#\.\./tests/#$SRC/tests/#g" -e "s#^output_root:.*#output_root: $1#" "$SRC/configs/demo.yaml" > "$2"
}

# verify CONFIG: every instance `squeeze plan` calls done opens and verifies
verify_done() {
  "$SQUEEZE" plan "$1" > "$WORK/plan.now" 2>&1 || { cat "$WORK/plan.now"; echo "plan failed"; return 1; }
  /usr/bin/python3 - "$WORK/plan.now" "$2" <<'EOF'
import hashlib, json, os, sys, h5py
plan_out, run_dir = sys.argv[1:3]
kinds = {"inspect": "inspect", "calibrate": "calibration", "compress": "model", "evaluate": "evaluation"}
text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
problems, checked = [], 0
for line in open(plan_out):
    parts = line.split()
    # STAGE VARIANT STATE KEY RANKS OUTPUT INPUTS
    if len(parts) < 6 or parts[0] not in list(kinds) + ["report"] or parts[2] != "done":
        continue
    stage, name, key, out = parts[0], parts[0] + ("" if parts[1] == "-" else "/" + parts[1]), parts[3], parts[5]
    out = os.path.join(run_dir, out)
    checked += 1
    try:
        if stage == "report":
            if not open(out).read().strip().startswith(key):
                problems.append(f"{name}: report/plan_key is not the planned key {key}")
            json.load(open(os.path.join(os.path.dirname(out), "report.json")))
            continue
        with h5py.File(out, "r") as f:
            a = f.attrs
            if text(a["squeeze_artifact"]) != kinds[stage]:
                problems.append(f"{name}: kind {text(a['squeeze_artifact'])}, expected {kinds[stage]}")
            if int(a["schema_version"]) != 1:
                problems.append(f"{name}: schema_version {a['schema_version']}")
            if not text(a["plan_key"]).startswith(key):
                problems.append(f"{name}: plan_key {text(a['plan_key'])[:12]} is not the planned {key}")
            for entry in text(a["inputs"]).splitlines():
                if not entry.strip():
                    continue
                path, digest = entry.rsplit(" ", 1)
                if not os.path.exists(path):
                    problems.append(f"{name}: input {path} is gone")
                elif sha(path) != digest:
                    problems.append(f"{name}: input {path} has another sha256 than the recorded one")
    except Exception as e:
        problems.append(f"{name}: cannot open or read {out}: {e}")
for p in problems:
    print("  " + p)
print(f"verified {checked} done instances, {len(problems)} problems")
sys.exit(1 if problems else 0)
EOF
}

descendants() { # pid: every descendant, deepest last
  local kids
  kids=$(pgrep -P "$1" || true)
  for k in $kids; do
    echo "$k"
    descendants "$k"
  done
}

# pick a moment in [0.1, 3.0] s from the seeded generator
moment() { printf '0.%02d' $((RANDOM % 100)) | awk -v whole=$((RANDOM % 3)) '{printf "%.2f", whole + $1 + 0.1}'; }

# 1. the clean reference (folder names of one length: artifacts record their input paths,
# so the file sizes compare only between folders with paths of the same length)
make_config "$WORK/clean" "$WORK/clean.yaml"
"$SQUEEZE" run "$WORK/clean.yaml" > "$WORK/clean.out" 2>&1 || { cat "$WORK/clean.out"; bad "clean run failed"; exit 1; }
ok "clean run complete"

# 2 + 3. kills
make_config "$WORK/kills" "$WORK/kills.yaml"
CFG="$WORK/kills.yaml"
RUN="$WORK/kills/demo"
kills=0
for round in driver stage; do
  for i in $(seq 1 "$MOMENTS"); do
    t=$(moment)
    "$SQUEEZE" run "$CFG" > "$WORK/kill-$round-$i.out" 2>&1 &
    driver=$!
    sleep "$t"
    what="nothing (the run had ended)"
    if kill -0 "$driver" 2>/dev/null; then
      if [ "$round" = driver ]; then
        kill -KILL "$driver" 2>/dev/null && what="the driver (pid $driver)"
      else
        victim=""
        for _ in $(seq 1 40); do
          mapfile -t procs < <(descendants "$driver")
          if [ ${#procs[@]} -gt 0 ]; then
            victim=${procs[$((RANDOM % ${#procs[@]}))]}
            break
          fi
          kill -0 "$driver" 2>/dev/null || break
          sleep 0.05
        done
        if [ -n "$victim" ]; then
          name=$(ps -o comm= -p "$victim" 2>/dev/null || echo gone)
          kill -KILL "$victim" 2>/dev/null && what="stage process $name (pid $victim)"
        fi
      fi
    fi
    wait "$driver" 2>/dev/null || true
    # a killed driver's stages die with it; give them a moment to go
    for _ in $(seq 1 50); do pgrep -f -- "$RUN/" > /dev/null || break; sleep 0.1; done
    kills=$((kills + 1))
    if verify_done "$CFG" "$RUN" > "$WORK/verify.out" 2>&1; then
      ok "kill $kills ($round, at ${t}s): $what; $(tail -1 "$WORK/verify.out")"
    else
      cat "$WORK/verify.out"
      bad "kill $kills ($round, at ${t}s): $what left a done instance that does not verify"
    fi
  done
done

# 4. complete and compare
"$SQUEEZE" resume "$CFG" > "$WORK/final.out" 2>&1 || { cat "$WORK/final.out"; bad "resume after the kills failed"; }
verify_done "$CFG" "$RUN" > "$WORK/verify.out" 2>&1 && ok "after the kills: $(tail -1 "$WORK/verify.out")" \
  || { cat "$WORK/verify.out"; bad "final run folder does not verify"; }
/usr/bin/python3 - "$WORK/clean/demo/report/report.json" "$RUN/report/report.json" <<'EOF' && ok "report.json numbers equal the clean run's" || bad "report.json differs from the clean run's"
import json, sys
clean, killed = (json.load(open(p)) for p in sys.argv[1:3])
fields = ["perplexity", "mean_nll", "nll_std", "scored_tokens", "windows", "model_file_bytes", "model_tensor_bytes",
          "baseline_file_bytes", "baseline_tensor_bytes", "ratio_file_bytes", "ratio_tensor_bytes", "ppl_change_pct",
          "kl_divergence"]
def numbers(report):
    out = {}
    for v in report["variants"]:
        out[v["name"]] = {"verdict": v["verdict"], **{k: v["measured"].get(k) for k in fields}}
    out["recommended"] = report.get("recommended")
    return out
a, b = numbers(clean), numbers(killed)
diff = [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
for k, x, y in diff:
    print(f"  {k}: clean {x}\n  {' ' * len(k)}  killed {y}")
sys.exit(1 if diff else 0)
EOF

# 5. two drivers on one folder; the folder is on a 24 MB tmpfs, for 6.
if [ "$(id -u)" != 0 ]; then
  bad "the full-disk part mounts a tmpfs and needs root (as the Slurm tests do)"
  mkdir -p "$MNT"
else
  mkdir -p "$MNT"
  mount -t tmpfs -o size=24m tmpfs "$MNT"
fi
make_config "$MNT" "$WORK/disk.yaml"
"$SQUEEZE" run "$WORK/disk.yaml" > "$WORK/first.out" 2>&1 &
first=$!
for _ in $(seq 1 100); do [ -e "$MNT/demo/.squeeze.lock" ] && break; sleep 0.05; done
set +e
"$SQUEEZE" run "$WORK/disk.yaml" > "$WORK/second.out" 2>&1
second=$?
wait "$first"
first_code=$?
set -e
[ "$second" != 0 ] && grep -qiE "lock|another|in use" "$WORK/second.out" \
  && ok "second driver refused (exit $second): $(head -1 "$WORK/second.out")" \
  || { cat "$WORK/second.out"; bad "second driver on the same folder was not refused (exit $second)"; }
[ "$first_code" = 0 ] && ok "first driver completed" || { cat "$WORK/first.out"; bad "first driver exit $first_code"; }

# 6. a full disk during compress and during evaluate
if mountpoint -q "$MNT"; then
  # fill the disk but for `room` KB: enough for the lock, the config and the stage's log,
  # not for its artifact (compress/nf4: 640 KB; evaluate/baseline: 3 MB)
  fill() {
    dd if=/dev/zero of="$MNT/room" bs=1k count="$1" 2> /dev/null
    dd if=/dev/zero of="$MNT/filler" bs=64k 2> /dev/null || true
    dd if=/dev/zero of="$MNT/filler2" bs=1k 2> /dev/null || true
    rm -f "$MNT/room"
    sync
  }
  # what makes each stage run again: a changed recipe (compress/nf4 and what follows it),
  # a changed evaluate section (every evaluation, the baseline first)
  for target in compress/nf4:96 evaluate/baseline:12; do
    room=${target#*:}
    target=${target%:*}
    stage=${target%/*}
    if [ "$stage" = compress ]; then
      echo "# changed" >> "$WORK/recipes/nf4.yaml"
    else
      sed -i 's/max_windows: 48/max_windows: 40/' "$WORK/disk.yaml"
    fi
    [ "$("$SQUEEZE" plan "$WORK/disk.yaml" | awk -v s="$stage" -v v="${target#*/}" '$1 == s && $2 == v {print $3}')" = stale ] \
      || bad "$target is not stale after its input changed"
    fill "$room"
    set +e
    "$SQUEEZE" resume "$WORK/disk.yaml" > "$WORK/full-$stage.out" 2>&1
    code=$?
    set -e
    state=$("$SQUEEZE" plan "$WORK/disk.yaml" 2>/dev/null | awk -v s="$stage" -v v="${target#*/}" '$1 == s && $2 == v {print $3}')
    left=$(find "$MNT/demo" -name '*.tmp.*' | wc -l)
    if [ "$code" = 4 ] && [ "$state" != done ] && [ "$left" = 0 ] && grep -q "$target FAILED (exit 4)" "$WORK/full-$stage.out"; then
      ok "full disk during $target: exit 4, $target $state, no temporary file left"
    else
      sed -n 1,40p "$WORK/full-$stage.out"
      bad "full disk during $target: exit $code, state '$state', $left temporary files"
    fi
    verify_done "$WORK/disk.yaml" "$MNT/demo" > "$WORK/verify.out" 2>&1 \
      || { cat "$WORK/verify.out"; bad "after the full disk during $target, a done instance does not verify"; }
    rm -f "$MNT/filler" "$MNT/filler2"
    "$SQUEEZE" resume "$WORK/disk.yaml" > "$WORK/free-$stage.out" 2>&1 && ok "with space again, resume completes" \
      || { tail -20 "$WORK/free-$stage.out"; bad "resume after freeing space failed"; }
  done
fi

sq_finish "PASS: kill anywhere ($kills kills, seed $SEED)"
