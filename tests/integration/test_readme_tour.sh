#!/usr/bin/env bash
# test_readme_tour.sh - the README's "A short tour", run as written: the lines of
# its sh block are extracted from README.md and run one by one, with bash, in a
# copy of the source folder's layout (configs/ copied so that results/ lands in
# the scratch folder; tests/ and build/ linked), the Slurm steps against the
# local Slurm.  Each line must show what its comment says (the table below: a
# tour line no entry matches is a failure, so the tour and the test cannot
# drift apart).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "FAIL: the tour's Slurm steps need the local Slurm, which needs root"; exit 1; }
"$SRC/slurm/start-local-slurm.sh"
T=$WORK
chmod 755 "$T"
cp -r "$SRC/configs" "$T/configs"
ln -s "$SRC/tests" "$T/tests"
ln -s "$BUILD" "$T/build"
sq_cleanup_more() { # before lib.sh removes $WORK
  (cd "$T" && "$BUILD/squeeze" cancel configs/demo.yaml --run demo-slurm >/dev/null 2>&1) || true
}
# the environment of a root user on this machine (the commands themselves are the README's)
sq_mpi_env
export OMPI_MCA_plm_rsh_agent=false

# the tour: the sh block after "## A short tour", without comment-only lines
awk '/^## A short tour/ {tour = 1} tour && /^```sh/ {block = 1; next} block && /^```/ {exit} block' "$SRC/README.md" \
  | grep -v '^[[:space:]]*#' | grep -v '^[[:space:]]*$' > "$T/tour.txt"
lines=$(wc -l < "$T/tour.txt")
[ "$lines" -ge 8 ] || { cat "$T/tour.txt"; bad "only $lines tour lines found in README.md"; }

# shows OUT EXIT WANTED PATTERN...: what a line whose command matches shows (grep -E on its output)
shows() {
  local out=$1 code=$2 want=$3; shift 3
  [[ " $want " == *" $code "* ]] || { cat "$out"; bad "exit $code, expected $want"; return; }
  for pattern in "$@"; do
    grep -qE -- "$pattern" "$out" || { cat "$out"; bad "output lacks /$pattern/"; }
  done
}

prelude=""
n=0
while IFS= read -r line; do
  n=$((n + 1))
  if [[ "$line" =~ ^[A-Za-z_]+=[^\ ]*$ ]]; then prelude+="$line; "; continue; fi  # B=build
  echo "== tour $n: $line"
  code=0
  (cd "$T" && bash -c "$prelude$line") > "$T/out.$n" 2>&1 < /dev/null || code=$?
  case "$line" in
    *squeeze-inspect*)
      shows "$T/out.$n" "$code" 0 '^Family itera' '293,656 parameters' 'lm_head\.weight -> embedding\.weight' '^Recommendation' ;;
    *"squeeze check "*)
      shows "$T/out.$n" "$code" 0 '0 problems in [0-9.]+ s: the run can go' 'ok: Slurm client tools found' ;;
    *"squeeze plan "*)
      shows "$T/out.$n" "$code" 0 '3 variants, 10 stage instances' '^compress +nf4 +missing' ;;
    SQUEEZE_FAULT=*)
      shows "$T/out.$n" "$code" 4 'compress/nf4 FAILED \(exit 4\); log: .*demo-fault/compress/nf4/stage\.log' \
        'rerun it by hand' 'squeeze resume .* --stage compress --variant nf4' ;;
    *"squeeze run "*)
      # the demo's stages may end between two polls of their progress, so the ETA line is
      # timing's to show; test_driver_progress runs a stage long enough to see it every time
      shows "$T/out.$n" "$code" 0 'running' 'run complete' 'results/demo/report/report\.html' ;;
    *"squeeze submit "*)
      shows "$T/out.$n" "$code" 0 'compress +job [0-9]+ array 0-2' 'aftercorr:' 'results/demo-slurm/ledger\.json' ;;
    *"squeeze status "*)
      # just submitted: pending or running (exit 5), or already done (0)
      shows "$T/out.$n" "$code" "0 5" 'run demo-slurm' '^report ' ;;
    *"--stage compress --variant nf4"*)
      shows "$T/out.$n" "$code" 0 'compress/nf4 +done in' ;;
    *"squeeze resume "*)
      shows "$T/out.$n" "$code" 0 'evaluate/nf4 +done in' 'report +done in' 'run complete' ;;
    *) bad "tour line $n has no expectation in this test: $line" ;;
  esac
done < "$T/tour.txt"

# the Slurm run the tour submitted is cancelled on exit (test_driver_slurm runs the demo on Slurm to the end)
sq_finish "test_readme_tour: all $n tour lines show what the README says"
