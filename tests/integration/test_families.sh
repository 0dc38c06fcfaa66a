#!/usr/bin/env bash
# test_families.sh - every stage on the llama and mamba families, with the bundled models
# (tests/data/bundled/llama_tiny, mamba_tiny, with their BPE tokenizer bpe512; docs/default-models.md):
# inspect names the parameter groups and keeps norms / SSM parameters in fp32; calibrate sees every linear
# (X^T X for GPTQ); compress applies the family recipes and GPTQ; evaluate gives
# bit-identical perplexity with 1, 2 and 4 MPI ranks for each family, the llama2.c .bin
# the same perplexity as the HF .safetensors of the same weights, and a compressed model
# a finite perplexity and KL against its baseline.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
sq_mpi_env
MPIRUN=(mpirun --oversubscribe --allow-run-as-root)

config() { # file checkpoint
  austen_config "$1" "$2" 0.01 0.2 "$DATA/bundled/bpe512/tokenizer.json"
  cat >> "$1" <<YAML
calibrate:
  windows: 5
  window_length: 64
  hessian: ["**.weight"]
evaluate:
  window_length: 129
  max_windows: 7
  store_logprobs: true
YAML
}

run_family() { # name checkpoint recipe expected-groups...
  local name=$1 ckpt=$2 recipe=$3; shift 3
  local dir=$WORK/$name
  mkdir -p "$dir"
  config "$dir/run.yaml" "$ckpt"
  "$BUILD/squeeze-inspect" --config "$dir/run.yaml" --out "$dir/inspect.h5" > "$dir/inspect.txt" 2> "$dir/inspect.log" \
    || { cat "$dir/inspect.log"; fail "$name: inspect"; }
  grep -q "0 without group" "$dir/inspect.log" || { cat "$dir/inspect.log"; fail "$name: tensors without a group"; }
  for g in "$@"; do
    grep -Eq " $g\$" "$dir/inspect.txt" || fail "$name: inspect lists no tensor of group $g"
  done
  "${MPIRUN[@]}" -np 2 "$BUILD/squeeze-calibrate" --config "$dir/run.yaml" --model "$dir/inspect.h5" \
    --out "$dir/cal.h5" 2> "$dir/cal.log" || { cat "$dir/cal.log"; fail "$name: calibrate"; }
  for r in "$recipe" gptq-int4; do
    "$BUILD/squeeze-compress" --config "$dir/run.yaml" --model "$dir/inspect.h5" --calibration "$dir/cal.h5" \
      --map "$SRC/configs/recipes/$r.yaml" --out "$dir/$r.h5" --json > "$dir/$r.json" 2> "$dir/$r.log" \
      || { cat "$dir/$r.log"; fail "$name: compress $r"; }
  done
  for n in 1 2 4; do
    "${MPIRUN[@]}" -np $n "$BUILD/squeeze-evaluate" --config "$dir/run.yaml" --model "$dir/inspect.h5" \
      --out "$dir/eval$n.h5" --json > "$dir/eval$n.json" 2> "$dir/eval$n.log" || { cat "$dir/eval$n.log"; fail "$name: evaluate $n"; }
  done
  local p1 p2 p4
  p1=$(json "$dir/eval1.json" perplexity); p2=$(json "$dir/eval2.json" perplexity); p4=$(json "$dir/eval4.json" perplexity)
  [ "$p1" = "$p2" ] && [ "$p1" = "$p4" ] || fail "$name: perplexity differs over ranks: $p1 / $p2 / $p4"
  "${MPIRUN[@]}" -np 2 "$BUILD/squeeze-evaluate" --config "$dir/run.yaml" --model "$dir/$recipe.h5" \
    --baseline "$dir/eval1.h5" --out "$dir/evalq.h5" --json > "$dir/evalq.json" 2> "$dir/evalq.log" \
    || { cat "$dir/evalq.log"; fail "$name: evaluate $recipe"; }
  $PY - "$dir" "$name" <<'PY'
import json, math, sys
d, name = sys.argv[1:]
base, q = json.load(open(f"{d}/eval1.json")), json.load(open(f"{d}/evalq.json"))
# trained models on their own tokenizer: far below the 512-token vocabulary (full validation
# text: llama 28.68, mamba 40.98, docs/default-models.md)
assert math.isfinite(base["perplexity"]) and 5.0 < base["perplexity"] < 80.0, (name, base["perplexity"])
assert math.isfinite(q["perplexity"]) and q["kl_divergence"] > 0, (name, q)
print(f"{name}: perplexity {base['perplexity']:.4f} on 1, 2 and 4 ranks; recipe -> {q['perplexity']:.4f}, "
      f"KL {q['kl_divergence']:.4g}")
PY
  echo "$p1" > "$dir/ppl"
}

run_family llama "$DATA/bundled/llama_tiny/model.safetensors" llama-q4km embedding attention ffn norm
run_family llama-bin "$DATA/bundled/llama_tiny/model.bin" llama-q4km embedding attention ffn norm
run_family mamba "$DATA/bundled/mamba_tiny/model.safetensors" mamba-mixed embedding ssm norm

# Same weights, HF rotate-half names vs llama2.c adjacent pairs: the same function up to rounding.
$PY - "$(cat "$WORK/llama/ppl")" "$(cat "$WORK/llama-bin/ppl")" <<'PY'
import sys
a, b = map(float, sys.argv[1:])
assert abs(a - b) <= 1e-5 * a, f"HF {a} vs llama2.c {b}"
PY
# The families keep what llama.cpp keeps in F32: A_log, D, conv1d, dt_proj.bias, norms.
$PY - "$WORK/mamba/mamba-mixed.h5" "$WORK/llama/llama-q4km.h5" <<'PY'
import sys, h5py
for path in sys.argv[1:]:
    acc = h5py.File(path, "r")["accounting"]
    names = [n.decode() for n in acc["name"][()]]
    fmt = [f.decode() for f in acc["format"][()]]
    rule = [r.decode() for r in acc["rule"][()]]
    for n, f, r in zip(names, fmt, rule):
        sensitive = n.endswith(("A_log", ".D", "conv1d.weight", "conv1d.bias", "dt_proj.bias", "norm.weight",
                                "layernorm.weight", "norm_f.weight"))
        if sensitive:
            assert f == "fp32" and r == "kept: full precision", (path, n, f, r)
        elif path.endswith("q4km.h5") and n.endswith(("q_proj.weight", "gate_proj.weight")):
            assert f == "int4", (path, n, f)
PY
echo "PASS"
