#!/usr/bin/env bash
# test_driver_injection.sh - no value of a run config can run a command through
# what the driver writes or starts (docs/driver.md "Values in scripts and
# command lines").
#
# For every config key whose value reaches a batch script, an sbatch argument
# or a local command line, and for each hostile value (newline, carriage
# return, tab, escape, $(...), backticks, quotes, ';', '&', spaces, non-ASCII,
# backslash, '%', '#', '..'), the config is submitted with stub Slurm tools.
# Either squeeze refuses it (exit 2, naming file:line:column; a control
# character must be refused and the key named) and writes no script, or:
#   - no generated script and no sbatch argument holds a raw control character,
#   - every script passes `bash -n`,
#   - for the keys that reach a script's commands, the first task of every
#     script runs in a sandbox (stub sbatch, srun, mpirun, module on PATH; stub
#     stage programs that log their argv),
#   - the stage programs receive the hostile paths unchanged,
# and no marker file (PWNED*) ever appears.  The hostile output_root values
# also go through `squeeze run` (the local executor and its mpirun command lines).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# ---- sandbox: a copy of squeeze whose stage programs are stubs ----------------
mkdir -p "$WORK/bin" "$WORK/stubs" "$WORK/data"
cp "$BUILD/squeeze" "$WORK/bin/squeeze"
for s in inspect calibrate compress evaluate report; do
  cat > "$WORK/bin/squeeze-$s" <<'STUB'
#!/bin/bash
# logs its argv (one NUL-terminated word each) and writes its --out
{ printf '%s\0' "$@"; printf '\n'; } >> "${SQ_STUB_LOG:?}"
out=; prev=
for a in "$@"; do [ "$prev" = --out ] && out=$a; prev=$a; done
if [ -n "$out" ]; then : > "$out"; fi
exit 0
STUB
  chmod +x "$WORK/bin/squeeze-$s"
done
cat > "$WORK/stubs/sbatch" <<'STUB'
#!/bin/bash
{ printf '%s\0' "$@"; printf '\n'; } >> "${SQ_SBATCH_LOG:?}"
echo $(( 1000 + $(wc -l < "$SQ_SBATCH_LOG") ))
STUB
cat > "$WORK/stubs/mpirun" <<'STUB'
#!/bin/bash
# drop the launcher's options, run the program as one rank
while [ $# -gt 0 ] && ! [ -x "$1" ] ; do shift; done
exec "$@"
STUB
cp "$WORK/stubs/mpirun" "$WORK/stubs/srun"
printf '#!/bin/bash\nexit 0\n' > "$WORK/stubs/module"
printf '#!/bin/bash\nexit 0\n' > "$WORK/stubs/squeue"
printf '#!/bin/bash\nexit 0\n' > "$WORK/stubs/sacct"
# a controller that does not answer: check's cluster questions stop at `scontrol ping` (a warning), so
# every hostile value reaches the scripts whatever the machine's own Slurm is doing
printf '#!/bin/bash\n[ "$1" != ping ] || { echo "Slurmctld(primary) at stub is DOWN"; exit 1; }\necho MaxArraySize = 1001\n' > "$WORK/stubs/scontrol"
chmod +x "$WORK"/stubs/*
export PATH="$WORK/stubs:$PATH" SQUEEZE_MAX_ARRAY_SIZE=100 SQUEEZE_TEMPLATE_DIR="$SRC/slurm" SQUEEZE_RECIPES="$SRC/configs/recipes"
SQ="$WORK/bin/squeeze"

# ---- hostile values -----------------------------------------------------------
HOSTILE=(
  $'o\ntouch PWNED-nl\n#'
  $'o\rtouch PWNED-cr'
  $'o\ttab'
  $'o\e[31mred'
  'o$(touch PWNED-dollar)'
  'o`touch PWNED-tick`'
  "o'; touch PWNED-sq; '"
  'o"; touch PWNED-dq; "'
  'o; touch PWNED-semi'
  'o with spaces && touch PWNED-amp'
  'o-ü-日本-é'
  "o\\'\$(touch PWNED-bs)"
  'o%j%%A # hash'
  '..'
  '../escape'
)
# control characters of stdin other than the newlines and NULs that separate words
has_control() { [ -n "$(LC_ALL=C tr -d '\000\n\040-\176\200-\377')" ]; }
yq() {  # a YAML double-quoted scalar holding $1 exactly
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\r'/\\r}; s=${s//$'\t'/\\t}; s=${s//$'\e'/\\e}
  printf '"%s"' "$s"
}

# keys whose value reaches a script, an sbatch argument or a command line; the
# data paths and the recipe reach only the effective configs, and are tried too
KEYS=(output_root run model.checkpoint data.calibration.path data.evaluation.path compress.recipe sweep.names
      slurm.partition slurm.account slurm.qos slurm.time slurm.memory slurm.modules slurm.sbatch slurm.launcher
      description)
# the keys whose hostile values also run every task of every script
RUN_KEYS=(output_root model.checkpoint slurm.modules slurm.sbatch slurm.launcher)

data_name() { local n=${1//\//_}; [ "$n" != .. ] || n=dotdot; printf '%s' "$n"; }  # a file name for a value
write_config() {  # write_config FILE KEY VALUE: the base config with KEY set to VALUE
  local file=$1 key=$2 value=$3
  declare -A v=(
    [output_root]=results [run]=inj [model.checkpoint]="$SRC/tests/data/bundled/itera_tiny_bytes.pt"
    [data.calibration.path]="$SRC/tests/data/bundled/austen_train.txt"
    [data.evaluation.path]="$SRC/tests/data/bundled/austen_val.txt" [compress.recipe]=int8
    [sweep.names]=first [slurm.partition]=debug [slurm.account]=proj [slurm.qos]=normal [slurm.time]="00:10:00"
    [slurm.memory]=2G [slurm.modules]=openmpi [slurm.sbatch]=--exclusive [slurm.launcher]=mpirun
    [description]=demo)
  local target=$value
  case $key in
    model.checkpoint | data.calibration.path | data.evaluation.path)
      # a real file under the hostile name, so the stages get the very path
      target="$WORK/data/$(data_name "$value")"
      cp "${v[$key]}" "$target" ;;
  esac
  v[$key]=$target
  {
    echo "run: $(yq "${v[run]}")"
    echo "description: $(yq "${v[description]}")"
    echo "output_root: $(yq "${v[output_root]}")"
    echo "model: {checkpoint: $(yq "${v[model.checkpoint]}")}"
    echo "data:"
    echo "  tokenizer: bytes"
    echo "  calibration: {path: $(yq "${v[data.calibration.path]}"), end: 0.02}"
    echo "  evaluation: {path: $(yq "${v[data.evaluation.path]}"), end: 0.25}"
    echo "calibrate: {windows: 2, window_length: 16, ranks: 2}"
    echo "evaluate: {window_length: 16, max_windows: 2, ranks: 2}"
    echo "sweep:"
    echo "  grid: {compress.recipe: [$(yq "${v[compress.recipe]}"), nf4]}"
    [ "$key" = compress.recipe ] || echo "  names: [$(yq "${v[sweep.names]}"), second]"
    echo "slurm:"
    echo "  partition: $(yq "${v[slurm.partition]}")"
    echo "  account: $(yq "${v[slurm.account]}")"
    echo "  qos: $(yq "${v[slurm.qos]}")"
    echo "  time: $(yq "${v[slurm.time]}")"
    echo "  memory: $(yq "${v[slurm.memory]}")"
    echo "  modules: [$(yq "${v[slurm.modules]}")]"
    echo "  sbatch: [$(yq "${v[slurm.sbatch]}")]"
    echo "  launcher: $(yq "${v[slurm.launcher]}")"
  } > "$file"
}

# Runs every task of every script in stage order in the sandbox.
run_scripts() {  # run_scripts LABEL SCRIPT...
  local label=$1 stage script id
  shift
  for stage in inspect calibrate baseline compress evaluate report; do
    for script in "$@"; do
      case ${script##*/} in "$stage".sbatch | "$stage".*.sbatch) ;; *) continue ;; esac
      # the first task of each script: the others differ only in the variant
      for id in $(sed -n 's/^  \([0-9][0-9]*\))$/\1/p' "$script" | head -1); do
        code=0
        (cd "$WORK/case/exec" && SLURM_ARRAY_TASK_ID=$id SQ_STUB_LOG="$WORK/stub.log" bash "$script" > /dev/null 2>&1) ||
          code=$?
        # a hostile launcher is one program name that does not exist: 127 from bash
        [ "$code" = 0 ] || { [ "$code" = 127 ] && [ "$key" = slurm.launcher ]; } ||
          bad "$label: task $id of $script exited $code"
      done
    done
  done
}

checked=0 refused=0 accepted=0
for key in "${KEYS[@]}"; do
  for i in "${!HOSTILE[@]}"; do
    value=${HOSTILE[$i]}
    label="$key=$(printf '%q' "$value")"
    # everything of a case lives in $WORK/case (output_root .. included)
    rm -rf "$WORK/case" "$WORK"/data/* "$WORK/stub.log" "$WORK/sbatch.log"
    mkdir -p "$WORK/case/exec"
    cfg="$WORK/case/exec/c.yaml"
    write_config "$cfg" "$key" "$value"
    checked=$((checked + 1))
    code=0
    (cd "$WORK/case/exec" && SQ_SBATCH_LOG="$WORK/sbatch.log" "$SQ" submit "$cfg" > "$WORK/out" 2>&1) || code=$?
    control=0
    if printf '%s' "$value" | has_control; then control=1; fi
    scripts=()
    while IFS= read -r -d '' f; do scripts+=("$f"); done < <(find "$WORK/case" -name '*.sbatch' -print0)
    if [ "$code" != 0 ]; then
      refused=$((refused + 1))
      [ "$code" = 2 ] || bad "$label: exit $code, wanted 0 or 2: $(cat "$WORK/out")"
      grep -q 'c\.yaml:[0-9]*:[0-9]*' "$WORK/out" || bad "$label: the refusal names no file:line:column: $(cat "$WORK/out")"
      if [ "$control" = 1 ] && ! grep -qF "$key" "$WORK/out"; then bad "$label: the refusal does not name the key: $(cat "$WORK/out")"; fi
      [ "${#scripts[@]}" = 0 ] || bad "$label: refused, yet scripts were written"
    else
      accepted=$((accepted + 1))
      # description is free text that reaches no script; it may hold anything
      [ "$control" = 0 ] || [ "$key" = description ] || bad "$label: a control character was accepted"
      case $key:$value in run:*..* | sweep.names:*..*) bad "$label: a name with .. was accepted" ;; esac
      [ "${#scripts[@]}" -gt 0 ] || bad "$label: accepted but no scripts: $(cat "$WORK/out")"
      if has_control < "$WORK/sbatch.log"; then bad "$label: an sbatch argument holds a control character"; fi
      for script in "${scripts[@]}"; do
        bash -n "$script" || bad "$label: bash -n fails on $script"
        if has_control < "$script"; then bad "$label: $script holds a raw control character"; fi
      done
      case " ${RUN_KEYS[*]} " in *" $key "*) run_scripts "$label" "${scripts[@]}" ;; esac
      case $key in
        model.checkpoint)
          grep -qaF -- "$WORK/data/$(data_name "$value")" "$WORK/stub.log" ||
            bad "$label: inspect did not receive the checkpoint path unchanged" ;;
        output_root)
          case $value in
            *..*) ;;  # the folder is normalised
            *) grep -qaF -- "/$value/inj/inspect/inspect.h5" "$WORK/stub.log" ||
                 bad "$label: inspect did not receive its --out unchanged" ;;
          esac ;;
      esac
      # the local executor and its mpirun command lines
      if [ "$key" = output_root ]; then
        rm -f "$WORK/stub.log"
        (cd "$WORK/case/exec" && SQ_STUB_LOG="$WORK/stub.log" "$SQ" run "$cfg" > "$WORK/out" 2>&1) || true
        grep -qaF -- "--out" "$WORK/stub.log" || bad "$label: the local run started no stage: $(cat "$WORK/out")"
      fi
    fi
    if find "$WORK" -name 'PWNED*' | grep -q .; then
      bad "$label: a marker file appeared: $(find "$WORK" -name 'PWNED*')"
      find "$WORK" -name 'PWNED*' -exec rm -rf {} +
    fi
  done
done
echo "$checked configs: $refused refused, $accepted accepted and run in the sandbox"
[ "$accepted" -gt 40 ] || bad "only $accepted hostile configs were accepted: the sandbox runs tested too little"
sq_finish
echo "ok: no hostile value ran a command"
