#!/usr/bin/env bash
# test_cli.sh - the command line is the same everywhere: --version on every program (squeeze and
# each stage) prints its name and squeeze's version and exits 0, also with nothing else on the
# line; inspect takes --model like the other stages (the positional form stays); every stage has
# --json (one JSON document on stdout); an MPI stage whose config asks for ranks > 1 but runs as
# one process says so.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$WORK"
sq_mpi_env

version=$(sed -n 's/^project(squeeze VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
[ -n "$version" ] || fail "no version in CMakeLists.txt"
for program in squeeze squeeze-inspect squeeze-calibrate squeeze-compress squeeze-evaluate squeeze-report \
               squeeze-export; do
  [ -x "$BUILD/$program" ] || continue
  out=$("$BUILD/$program" --version 2>&1) || fail "$program --version exited $?: $out"
  [ "$out" = "$program $version" ] || fail "$program --version printed '$out', expected '$program $version'"
done
out=$("$BUILD/squeeze" run some.yaml --version) || fail "squeeze run CONFIG --version exited $?"
[ "$out" = "squeeze $version" ] || fail "squeeze run CONFIG --version printed '$out'"
echo "--version: every program prints '<program> $version'"

MODEL=$DATA/bundled/itera_tiny_bytes.pt
cat > run.yaml <<YAML
model: {checkpoint: $MODEL}
data:
  tokenizer: bytes
  calibration: {path: $DATA/bundled/austen_train.txt, end: 0.002}
  evaluation: {path: $DATA/bundled/austen_val.txt, end: 0.05}
calibrate: {windows: 2, window_length: 64, ranks: 2}
evaluate: {window_length: 128, max_windows: 2, ranks: 2, store_logprobs: true}
YAML
# inspect: --model and the positional form give the same facts
"$BUILD/squeeze-inspect" --model "$MODEL" --json > by-option.json 2> inspect.log || fail "inspect --model: $(cat inspect.log)"
"$BUILD/squeeze-inspect" "$MODEL" --json > positional.json 2>> inspect.log || fail "inspect CHECKPOINT exited $?"
cmp -s by-option.json positional.json || fail "inspect --model and inspect CHECKPOINT differ"
code=0; "$BUILD/squeeze-inspect" "$MODEL" --model "$DATA/bundled/transformer_tiny_bytes.pt" > /dev/null 2> two.log || code=$?
[ $code = 2 ] && grep -q "two checkpoints given" two.log || fail "two different checkpoints: exit $code: $(cat two.log)"
"$BUILD/squeeze-inspect" --model "$MODEL" --out inspect.h5 > /dev/null 2>> inspect.log

# every stage's --json is one JSON document; MPI stages without mpirun say that ranks: 2 was asked for
"$BUILD/squeeze-calibrate" --config run.yaml --model inspect.h5 --out calibration.h5 --json > calibrate.json \
  2> calibrate.log || fail "calibrate --json: $(cat calibrate.log)"
grep -q "calibrate.ranks: 2, but this calibrate runs as 1 MPI process: start it with mpirun -np 2" calibrate.log \
  || fail "calibrate does not say it runs on 1 of the 2 ranks asked for: $(cat calibrate.log)"
mkdir -p run/inspect run/evaluate/baseline run/compress/int8 run/evaluate/int8
cp inspect.h5 run/inspect/inspect.h5
"$BUILD/squeeze-evaluate" --config run.yaml --model run/inspect/inspect.h5 --out run/evaluate/baseline/evaluation.h5 \
  --json > evaluate.json 2> evaluate.log || fail "evaluate --json: $(cat evaluate.log)"
grep -q "evaluate.ranks: 2, but this evaluate runs as 1 MPI process" evaluate.log \
  || fail "evaluate does not say it runs on 1 of the 2 ranks asked for: $(cat evaluate.log)"
"$BUILD/squeeze-compress" --config run.yaml --model run/inspect/inspect.h5 --map "$SRC/configs/recipes/int8.yaml" \
  --out run/compress/int8/model.h5 --json > compress.json 2> compress.log || fail "compress --json: $(cat compress.log)"
"$BUILD/squeeze-evaluate" --config run.yaml --model run/compress/int8/model.h5 --baseline run/evaluate/baseline/evaluation.h5 \
  --out run/evaluate/int8/evaluation.h5 > /dev/null 2> evaluate2.log || fail "evaluate int8: $(cat evaluate2.log)"
"$BUILD/squeeze-report" --run-dir run --config run.yaml --json > report.json 2> report.log || fail "report --json: $(cat report.log)"
$PY - <<'PY' || fail "a stage's --json is not what it should be"
import json
calibrate = json.load(open("calibrate.json"))
assert calibrate["root"]["squeeze_artifact"] == "calibration", calibrate["root"]
assert calibrate["artifact"] == "calibration.h5" and calibrate["calibration"], calibrate
assert json.load(open("inspect.json" if False else "by-option.json"))["family"] == "itera"
assert json.load(open("evaluate.json"))["perplexity"] > 1
assert json.load(open("compress.json"))
report = json.load(open("report.json"))
assert report["variants"][0]["name"] == "int8" and report["recommended"] in ("int8", None), report["recommended"]
print("--json: inspect, calibrate, compress, evaluate and report each print one JSON document")
PY
echo "PASS"
