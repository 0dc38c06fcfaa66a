#!/usr/bin/env bash
# test_prune.sh - the recipe's prune section (compress/prune.h) on the bundled Llama and the
# Itera-Lite micro checkpoint:
#   - FFN channels: the pruned Llama's log-probs equal, within 1e-4, those of the FULL model with
#     the removed channels zeroed (gate/up rows and down columns set to 0, written by numpy from
#     the original safetensors): silu(0) * 0 = 0, so the zeroed channels contribute nothing and
#     the two are the same function; the tensors really shrink and the config says the new size;
#   - experts: the fewest-routed experts (calibration's routing counts) go, the router's rows
#     follow, the config's num_experts and the records say so, and the pruned model evaluates;
#   - attention heads of the Llama (GQA 4/2: one query head per KV group) in the same recipe: the
#     zeroed model also has the removed heads' o_proj columns set to 0 (a head whose output is
#     zero contributes nothing); the config's num_heads follows, the KV groups stay;
#   - every removed row / column / expert / head is a line of /pruning/removed with its score;
#   - the committed pruned artifacts (tests/data/golden/pruned/, compared with PyTorch references
#     of the pruned architectures by test_forward) are what compress writes today;
#   - force: true on an SSM target runs the pruning (Itera-Lite inner channels here; the Mamba-1
#     golden above has inner channels and a state dimension), warned in the log and recorded
#     in /pruning@forced_ssm; the pruned model evaluates;
#   - bad input (too many channels or heads, a layer out of range, top-k above the remaining
#     experts, an unbalanced GQA head count, an SSM target without force, Mamba-2 with force)
#     exits 2 with the reason and the rule's YAML line:column, and leaves no artifact.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

LLAMA=$DATA/bundled/llama_tiny/model.safetensors
austen_config "$WORK/llama.yaml" "$LLAMA" 0.01 0.2
cat >> "$WORK/llama.yaml" <<YAML
calibrate:
  windows: 4
  window_length: 64
evaluate:
  window_length: 65
  max_windows: 4
  store_logprobs: true
YAML
micro_config "$WORK/micro.yaml" 0.9
cat >> "$WORK/micro.yaml" <<YAML
calibrate:
  windows: 8
  window_length: 64
evaluate:
  window_length: 65
  max_windows: 8
YAML

# ---- FFN channels of the Llama: pruned == full with the channels zeroed -------------------
"$BUILD/squeeze-calibrate" --config "$WORK/llama.yaml" --model "$LLAMA" --out "$WORK/llama-cal.h5" \
  2> "$WORK/llama-cal.log" || { cat "$WORK/llama-cal.log"; fail "calibrate llama"; }
cat > "$WORK/ffn.yaml" <<'YAML'
description: "a quarter of the SwiGLU channels and one query head per KV group, fp32"
prune:
  - target: ffn-channels
    fraction: 0.25
  - target: heads
    count: 2
default: fp32
YAML
"$BUILD/squeeze-compress" --config "$WORK/llama.yaml" --model "$LLAMA" --calibration "$WORK/llama-cal.h5" \
  --map "$WORK/ffn.yaml" --out "$WORK/llama-ffn.h5" 2> "$WORK/ffn.log" || { cat "$WORK/ffn.log"; fail "compress ffn"; }
grep -q "FFN channels removed per FFN" "$WORK/ffn.log" || fail "no pruning line in the compress log"
grep -q "2 of 4 attention heads removed per layer (query heads" "$WORK/ffn.log" || fail "no head pruning line"
mkdir -p "$WORK/zeroed"
cp "$DATA/bundled/llama_tiny/config.json" "$WORK/zeroed/"
$PY - "$LLAMA" "$WORK/llama-ffn.h5" "$WORK/zeroed/model.safetensors" <<'PY'
import json, struct, sys
import h5py, numpy as np
src, pruned, out = sys.argv[1:]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
body = raw[8 + n:]
tensors = {}
for name, info in header.items():
    if name == "__metadata__":
        continue
    assert info["dtype"] == "F32", (name, info["dtype"])
    a, b = info["data_offsets"]
    tensors[name] = np.frombuffer(body[a:b], dtype="<f4").reshape(info["shape"]).copy()
def record(f):
    g = f["pruning"]
    names = [x.decode() for x in g["tensors"][()]]
    kinds = ("row", "column", "expert", "head", "kv-head")
    return [(names[t], kinds[k], int(i), float(s), int(sk)) for t, k, i, s, sk in
            zip(g["tensor"][()], g["removed"][()], g["index"][()], g["score"][()], g["score_kind"][()])]
with h5py.File(pruned, "r") as f:
    lines = record(f)
    cfg = json.loads(f["model"].attrs["config_json"])
removed, heads = {}, {}
for tensor, what, index, score, kind in lines:
    if what == "head":
        assert score > 0 and kind == 3 and ("q_proj" in tensor or "o_proj" in tensor), (tensor, index, kind)
        heads.setdefault(tensor, []).append(index)
        continue
    assert what in ("row", "column") and score >= 0 and kind == 0, (tensor, what, index, score, kind)
    removed.setdefault(tensor, []).append((what, index))
assert cfg["num_heads"] == 2 and cfg["num_kv_heads"] == 2, cfg
hd = cfg["head_dim"]
for layer in range(5):
    gone = sorted(heads[f"model.layers.{layer}.self_attn.o_proj.weight"])
    assert len(gone) == 2 and gone[0] in (0, 1) and gone[1] in (2, 3), (layer, gone)  # one per KV group
    assert gone == sorted(heads[f"model.layers.{layer}.self_attn.q_proj.weight"])
    for h in gone:
        tensors[f"model.layers.{layer}.self_attn.o_proj.weight"][:, h * hd:(h + 1) * hd] = 0
full = tensors["model.layers.0.mlp.gate_proj.weight"].shape[0]
kept = full - len(removed["model.layers.0.mlp.gate_proj.weight"])
assert kept == int(full * 0.75 + 0.5) and cfg["ffn_size"] == kept, (full, kept, cfg.get("ffn_size"))
for tensor, items in removed.items():
    for what, index in items:
        if what == "row":
            tensors[tensor][index, :] = 0
        else:
            tensors[tensor][:, index] = 0
hdr, off, blobs = {}, 0, []
for name, t in tensors.items():
    b = t.astype("<f4").tobytes()
    hdr[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
    off += len(b)
    blobs.append(b)
h = json.dumps(hdr).encode()
h += b" " * (-len(h) % 8)
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
print(f"ffn + heads: {len(lines)} removals recorded, ffn size {full} -> {kept}, heads 4 -> 2")
PY
"$BUILD/squeeze-evaluate" --config "$WORK/llama.yaml" --model "$WORK/llama-ffn.h5" --out "$WORK/ev-pruned.h5" \
  2> "$WORK/ev1.log" || { cat "$WORK/ev1.log"; fail "evaluate pruned"; }
"$BUILD/squeeze-evaluate" --config "$WORK/llama.yaml" --model "$WORK/zeroed/model.safetensors" \
  --out "$WORK/ev-zeroed.h5" 2> "$WORK/ev2.log" || { cat "$WORK/ev2.log"; fail "evaluate zeroed"; }
$PY - "$WORK/ev-pruned.h5" "$WORK/ev-zeroed.h5" "$WORK/llama-ffn.h5" "$LLAMA" <<'PY'
import sys, h5py, numpy as np, os
a, b, art, src = sys.argv[1:]
with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
    ea, eb = fa["evaluation"], fb["evaluation"]
    # per-token NLL of every window, computed in float64 from the float32 logits
    na = ea["window_nll"][()] / ea["window_tokens"][()]
    nb = eb["window_nll"][()] / eb["window_tokens"][()]
    assert np.all(np.isfinite(na)), na
    diff = float(np.max(np.abs(na - nb)))
    assert diff <= 1e-4, ("window NLL per token", diff)
    # the stored log-probs are fp16: equal within one fp16 step of the value
    x = ea["logprobs"][()].astype(np.float64)
    y = eb["logprobs"][()].astype(np.float64)
    step = np.spacing(np.abs(x).astype(np.float16)).astype(np.float64)
    worst = float(np.max(np.abs(x - y) - step))
    assert x.shape == y.shape and worst <= 0, ("fp16 log-probs differ by more than one step", worst)
    print(f"pruned vs zeroed full model: window NLL/token max |diff| {diff:.3g}; "
          f"{x.shape[0]}x{x.shape[1]} fp16 log-probs within one fp16 step")
assert os.path.getsize(art) < os.path.getsize(src), (os.path.getsize(art), os.path.getsize(src))
PY

# ---- experts of the Itera-Lite micro model, by routing counts -------------------------------
"$BUILD/squeeze-calibrate" --config "$WORK/micro.yaml" --model "$MICRO" --out "$WORK/micro-cal.h5" \
  2> "$WORK/micro-cal.log" || { cat "$WORK/micro-cal.log"; fail "calibrate micro"; }
cat > "$WORK/experts.yaml" <<'YAML'
prune:
  - target: experts
    count: 2
  - target: ffn-channels
    fraction: 0.5
default: {format: nf4, block_size: 64}
YAML
"$BUILD/squeeze-compress" --config "$WORK/micro.yaml" --model "$MICRO" --calibration "$WORK/micro-cal.h5" \
  --map "$WORK/experts.yaml" --out "$WORK/micro-exp.h5" 2> "$WORK/exp.log" || { cat "$WORK/exp.log"; fail "compress experts"; }
"$BUILD/squeeze-evaluate" --config "$WORK/micro.yaml" --model "$WORK/micro-exp.h5" --out "$WORK/ev-exp.h5" --json \
  > "$WORK/ev-exp.json" 2> "$WORK/ev3.log" || { cat "$WORK/ev3.log"; fail "evaluate pruned experts"; }
$PY - "$WORK/micro-cal.h5" "$WORK/micro-exp.h5" "$WORK/ev-exp.json" <<'PY'
import json, math, sys, h5py, numpy as np
cal, art, ev = sys.argv[1:]
with h5py.File(cal, "r") as f:
    counts = f["calibration/routing/expert_tokens"][()][0]
with h5py.File(art, "r") as f:
    cfg = json.loads(f["model"].attrs["config_json"])
    g = f["pruning"]
    tn = [x.decode() for x in g["tensors"][()]]
    lines = [(tn[t], ("row", "column", "expert")[k], int(i), float(s)) for t, k, i, s in
             zip(g["tensor"][()], g["removed"][()], g["index"][()], g["score"][()])]
    names = set()
    f["model"].visit(names.add)
gone = sorted({int(l[2]) for l in lines if l[1] == "expert"})
assert gone == sorted(np.argsort(counts, kind="stable")[:2].tolist()), (gone, counts)
for l in lines:
    if l[1] == "expert":
        assert l[3] == counts[l[2]], l
assert cfg["num_experts"] == 2 and cfg["expert_size"] == 16, cfg
assert not any("experts.2." in n or "experts.3." in n for n in names), sorted(names)
ppl = json.load(open(ev))["perplexity"]
assert math.isfinite(ppl) and ppl > 1, ppl
print(f"experts: removed {gone} (routing counts {counts.tolist()}), perplexity after pruning + nf4 {ppl:.3f}")
PY

# ---- the pruned goldens are what compress writes today ---------------------------------------
# tests/data/golden/pruned/*.h5 were written by squeeze-compress for make_golden_pruned.py, whose
# PyTorch references of the pruned architectures test_forward compares them against; pruning the
# same checkpoints with the same recipes again must give the same tensors, config and record.
same_as_golden() { # name config checkpoint [compress options]
  local name=$1 config=$2 src=$3
  shift 3
  "$BUILD/squeeze-compress" --config "$config" --model "$src" "$@" --map "$DATA/golden/pruned/$name.prune.yaml" \
    --out "$WORK/g-$name.h5" 2> "$WORK/g-$name.log" || { cat "$WORK/g-$name.log"; fail "compress $name"; }
  $PY - "$WORK/g-$name.h5" "$DATA/golden/pruned/$name.h5" <<'PY' || fail "$name differs from its golden artifact"
import json, sys, h5py, numpy as np
new, old = (h5py.File(p, "r") for p in sys.argv[1:])
names = []
old["model"].visit(lambda n: names.append(n) if isinstance(old["model"][n], h5py.Dataset) else None)
assert len(names) > 10, names
for n in names:
    assert np.array_equal(new["model"][n][()], old["model"][n][()]), n
assert json.loads(new["model"].attrs["config_json"]) == json.loads(old["model"].attrs["config_json"])
for n in ("tensors", "tensor", "removed", "index", "score_kind"):
    assert np.array_equal(new["pruning"][n][()], old["pruning"][n][()]), n
# scores from calibration statistics: float sums that faster kernels may add in another order
a, b = new["pruning"]["score"][()], old["pruning"]["score"][()]
assert np.allclose(a, b, rtol=1e-5, atol=0), float(np.max(np.abs(a - b) / np.abs(b)))
print(f"{sys.argv[2].split('/')[-1]}: {len(names)} datasets and the /pruning record as committed")
PY
}
printf 'model:\n  checkpoint: %s\n' "$DATA/golden/random_transformer.pt" > "$WORK/g-t.yaml"
same_as_golden pruned_transformer_heads "$WORK/g-t.yaml" "$DATA/golden/random_transformer.pt"
printf 'model:\n  checkpoint: %s\n' "$DATA/golden/llama_gqa_hf.safetensors" > "$WORK/g-hf.yaml"
same_as_golden pruned_llama_heads_ffn "$WORK/g-hf.yaml" "$DATA/golden/llama_gqa_hf.safetensors"
printf 'model:\n  checkpoint: %s\n' "$DATA/golden/llama_gqa_meta.safetensors" > "$WORK/g-meta.yaml"
same_as_golden pruned_llama_groups "$WORK/g-meta.yaml" "$DATA/golden/llama_gqa_meta.safetensors"
same_as_golden pruned_micro_experts "$WORK/micro.yaml" "$MICRO" --calibration "$WORK/micro-cal.h5"
printf 'model:\n  checkpoint: %s\n' "$DATA/golden/mamba1_random.safetensors" > "$WORK/g-mamba.yaml"
same_as_golden pruned_mamba1_forced "$WORK/g-mamba.yaml" "$DATA/golden/mamba1_random.safetensors"
grep -q "force: true overrides the SSM guard: pruning 8 of 48 SSM inner channels per layer" \
  "$WORK/g-pruned_mamba1_forced.log" || fail "forced SSM pruning is not warned about"

# ---- force: true on the Itera-Lite SSM: it runs, is recorded and warned --------------------
printf 'prune:\n  - target: ssm-inner\n    count: 4\n    force: true\ndefault: fp32\n' > "$WORK/forced.yaml"
"$BUILD/squeeze-compress" --config "$WORK/micro.yaml" --model "$MICRO" --calibration "$WORK/micro-cal.h5" \
  --map "$WORK/forced.yaml" --out "$WORK/forced.h5" 2> "$WORK/forced.log" || { cat "$WORK/forced.log"; fail "forced"; }
grep -q "warning: .*forced.yaml:2:5: force: true overrides the SSM guard: pruning 4 of 128 SSM inner channels" \
  "$WORK/forced.log" || { cat "$WORK/forced.log"; fail "forced SSM pruning is not warned about"; }
"$BUILD/squeeze-evaluate" --config "$WORK/micro.yaml" --model "$WORK/forced.h5" --out "$WORK/ev-forced.h5" --json \
  > "$WORK/ev-forced.json" 2> "$WORK/ev4.log" || { cat "$WORK/ev4.log"; fail "evaluate forced"; }
$PY - "$WORK/forced.h5" "$WORK/ev-forced.json" <<'PY'
import json, math, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    cfg = json.loads(f["model"].attrs["config_json"])
    g = f["pruning"]
    forced = g.attrs["forced_ssm"].decode() if isinstance(g.attrs["forced_ssm"], bytes) else g.attrs["forced_ssm"]
    assert "ssm-inner 4 of 128 SSM inner channels per layer" in forced, forced
    assert g.attrs["ssm_removed"] == 12, g.attrs["ssm_removed"]
    assert f["model/tensors/layers.0.ssm.ssm.delta_proj.weight"].shape == (124, 124)
    assert f["model/tensors/layers.2.ssm.in_proj.weight"].shape == (248, 64)
assert cfg["d_inner"] == 124, cfg
ppl = json.load(open(sys.argv[2]))["perplexity"]
assert math.isfinite(ppl) and ppl > 1, ppl
print(f"forced ssm-inner: d_inner 128 -> 124, recorded ({forced}), perplexity {ppl:.3f}")
PY

# ---- bad input: exit 2, the reason, no artifact -------------------------------------------
refuse_on() { # config model calibration name expected-message yaml: exit 2, message with line:column
  local config=$1 model=$2 cal=$3 name=$4 msg=$5
  printf '%s\n' "$6" > "$WORK/$name.yaml"
  expect 2 "$msg" "$WORK/$name.h5" "$BUILD/squeeze-compress" --config "$config" --model "$model" \
    ${cal:+--calibration "$cal"} --map "$WORK/$name.yaml" --out "$WORK/$name.h5"
  grep -q -- "$name.yaml:[0-9]*:[0-9]*: " "$WORK/expect.log" || { cat "$WORK/expect.log"; fail "$name: no line:column"; }
  ok "$name -> $(grep error "$WORK/expect.log" | head -1 | cut -c1-160)"
}
refuse() { refuse_on "$WORK/micro.yaml" "$MICRO" "$WORK/micro-cal.h5" "$@"; }
refuse_llama() { refuse_on "$WORK/llama.yaml" "$LLAMA" "$WORK/llama-cal.h5" "$@"; }
refuse_llama heads-all "pruning 4 of the 4 query heads per layer leaves a KV group with none" \
  $'prune:\n  - target: heads\n    count: 4\ndefault: fp32'
refuse_llama heads-more "pruning 6 query heads per layer, but each layer has 4" $'prune:\n  - target: heads\n    count: 6\ndefault: fp32'
refuse_llama groups-all "pruning 2 of the 2 KV groups per layer leaves none" \
  $'prune:\n  - target: heads\n    unit: kv-groups\n    count: 2\ndefault: fp32'
refuse_llama gqa-unbalanced "cannot keep the 2 KV groups balanced: the count must be a multiple of 2" \
  $'prune:\n  - target: heads\n    count: 1\ndefault: fp32'
refuse_llama heads-layer "heads-layer.yaml:4:17: layer 5 is out of range: the model has 5 layers" \
  $'prune:\n  - target: heads\n    count: 2\n    layers: [0, 5]\ndefault: fp32'
refuse_llama heads-some "names 2 of the 5 layers with attention" \
  $'prune:\n  - target: heads\n    count: 2\n    layers: [0, 1]\ndefault: fp32'
refuse_llama heads-unit "unknown head unit 'groups'" \
  $'prune:\n  - target: heads\n    unit: groups\n    count: 2\ndefault: fp32'
refuse_llama unit-ffn "'unit' only applies to target: heads" \
  $'prune:\n  - target: ffn-channels\n    unit: kv-groups\n    count: 2\ndefault: fp32'
refuse no-heads "has no attention heads squeeze can prune" $'prune:\n  - target: heads\n    count: 1\ndefault: fp32'
refuse too-many "leaves none" $'prune:\n  - target: ffn-channels\n    count: 32\ndefault: fp32'
refuse all "outside \[0, 1)" $'prune:\n  - target: ffn-channels\n    fraction: 1.0\ndefault: fp32'
refuse layer "layer.yaml:4:14: layer 7 is out of range" $'prune:\n  - target: experts\n    count: 1\n    layers: [7]\ndefault: fp32'
refuse topk "fewer than top-k = 2" $'prune:\n  - target: experts\n    count: 3\ndefault: fp32'
refuse ssm "recurrent state couples" $'prune:\n  - target: ssm-state\n    fraction: 0.25\ndefault: fp32'
refuse ssm-all "leaves none" $'prune:\n  - target: ssm-state\n    count: 8\n    force: true\ndefault: fp32'
refuse_on "$WORK/g-mamba.yaml" "$DATA/golden/mamba2_random.safetensors" "" mamba2-force "squeeze prunes Mamba-1 SSMs only" \
  $'prune:\n  - target: ssm-inner\n    count: 4\n    force: true\ndefault: fp32'
echo "prune: ok"
