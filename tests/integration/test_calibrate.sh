#!/usr/bin/env bash
# test_calibrate.sh - squeeze-calibrate on the real Itera-Lite micro checkpoint with 1, 2 and 4 MPI
# ranks: absmax, histograms, counts, per-channel means and percentiles must be byte-identical, X^T X
# equal within 1e-12 relative; the statistics must be self-consistent (histogram totals = tokens x
# channels, top-2 routing counts = 2 x tokens, diag(X^T X)/N = mean x^2, percentile <= absmax);
# config errors leave no artifact.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
sq_mpi_env
MODEL=$MICRO

# 7 windows: uneven over 2 and 4 ranks (4 ranks: 1, 2, 2, 2 windows).
micro_config "$WORK/run.yaml"
cat >> "$WORK/run.yaml" <<EOF
calibrate:
  windows: 7
  window_length: 96
  percentiles: [99.0, 99.99]
  hessian: ["layers.*.ssm.in_proj.weight", "layers.1.moe.layer.experts.*.w1.weight", "lm_head.weight"]
EOF

# One process without mpirun, then 2 and 4 ranks.
"$BUILD/squeeze-calibrate" --config "$WORK/run.yaml" --model "$MODEL" --out "$WORK/cal1.h5" --key k1 2> "$WORK/log1"
for n in 2 4; do
  mpirun --oversubscribe --allow-run-as-root -np $n "$BUILD/squeeze-calibrate" --config "$WORK/run.yaml" \
    --model "$MODEL" --out "$WORK/cal$n.h5" 2> "$WORK/log$n"
done
grep -q "7 windows of 96 tokens" "$WORK/log1" || { cat "$WORK/log1"; echo "FAIL: window log"; exit 1; }

$PY - "$WORK" <<'EOF'
import sys, h5py, numpy as np
work = sys.argv[1]
files = {n: h5py.File(f"{work}/cal{n}.h5", "r") for n in (1, 2, 4)}
ref = files[1]
root = ref["calibration"]
fail = []

def check(cond, what):
    if not cond:
        fail.append(what)

check(ref.attrs["squeeze_artifact"] in (b"calibration", "calibration"), "kind")
check(ref.attrs["plan_key"] in (b"k1", "k1"), "plan_key")
for n in (1, 2, 4):
    check(int(files[n].attrs["mpi_ranks"]) == n, f"mpi_ranks {n}")
check(int(root.attrs["windows"]) == 7 and int(root.attrs["window_length"]) == 96, "windows")
check(int(root.attrs["tokens"]) == 7 * 96, "tokens")
starts = root["window_starts"][()]
check(len(starts) == 7 and all(np.diff(starts) >= 96), f"windows spread, non-overlapping: {starts}")
check(root.attrs["family"] in (b"itera", "itera"), "family")

# Every linear the micro model has (itera-lite.md 1.3): 3 SSM blocks x (in_proj, delta_proj,
# out_proj), 2 dense FFNs x 2, 4 experts x 2 + the router gate, and the tied head.
names = sorted(root["linears"].keys())
check(len(names) == 23, f"23 linears, got {len(names)}: {names}")
check("lm_head.weight" in names and "layers.1.moe.layer.router.gate.weight" in names, "head and router")
check("embedding.weight" not in names, "the embedding is a lookup, not a linear")

# 1 vs 2 vs 4 ranks: byte-identical except X^T X.
exact = ["absmax", "mean_abs", "mean_sq", "percentiles", "tensor_percentiles", "histogram"]
for name in names:
    g = root["linears"][name]
    for n in (2, 4):
        h = files[n]["calibration/linears"][name]
        check(int(h.attrs["tokens"]) == int(g.attrs["tokens"]), f"{name} tokens {n} ranks")
        for ds in exact:
            check(g[ds][()].tobytes() == h[ds][()].tobytes(), f"{name}/{ds} differs with {n} ranks")
        if "hessian" in g:
            a, b = g["hessian"][()], h["hessian"][()]
            rel = np.abs(a - b).max() / np.abs(a).max()
            check(rel <= 1e-12, f"{name}/hessian {n} ranks: relative difference {rel}")
for n in (2, 4):
    r = files[n]["calibration/routing/expert_tokens"][()]
    check(r.tobytes() == root["routing/expert_tokens"][()].tobytes(), f"routing {n} ranks")
    check(files[n]["calibration/window_starts"][()].tobytes() == starts.tobytes(), f"starts {n} ranks")

# Self-consistency of the statistics.
tokens = int(root.attrs["tokens"])
routing = root["routing/expert_tokens"][()]
check(routing.shape == (1, 4) and int(routing.sum()) == 2 * tokens, f"top-2 routing counts {routing}")
check(list(root["routing/layers"][()]) == [1], "MoE layer 1")
levels = list(root["percentile_levels"][()])
check(levels == [99.0, 99.99], f"percentile levels {levels}")
expert_tokens = 0
for name in names:
    g = root["linears"][name]
    cols, seen = int(g.attrs["cols"]), int(g.attrs["tokens"])
    absmax, mean_abs, mean_sq = g["absmax"][()], g["mean_abs"][()], g["mean_sq"][()]
    pct = g["percentiles"][()]
    check(int(g["histogram"][()].sum()) == seen * cols, f"{name}: histogram holds tokens x channels")
    check(np.all(mean_abs <= absmax + 1e-6) and np.all(mean_sq >= mean_abs ** 2 * (1 - 1e-9)), f"{name}: moments")
    check(pct.shape == (2, cols) and np.all(pct[0] <= pct[1]) and np.all(pct[1] <= absmax), f"{name}: percentiles")
    check(np.all(absmax > 0), f"{name}: absmax > 0")
    if ".experts." in name and name.endswith("w1.weight"):
        expert_tokens += seen
        e = int(name.split(".experts.")[1].split(".")[0])
        check(seen == int(routing[0, e]), f"{name}: rows seen = tokens routed ({seen} vs {routing[0, e]})")
    elif ".experts." not in name:
        check(seen == tokens, f"{name}: every token ({seen})")
    if "hessian" in g:
        h = g["hessian"][()]
        check(h.shape == (cols, cols) and np.allclose(h, h.T, rtol=0, atol=0), f"{name}: symmetric X^T X")
        check(np.allclose(np.diag(h), mean_sq, rtol=1e-12, atol=0), f"{name}: diag(X^T X)/N = mean x^2")
check(expert_tokens == 2 * tokens, "expert rows add up to 2 x tokens")
hess = [n for n in names if "hessian" in root["linears"][n]]
check(len(hess) == 3 + 4 + 1, f"X^T X for the hessian globs only: {hess}")

if fail:
    print("FAIL:\n  " + "\n  ".join(fail))
    sys.exit(1)
print(f"ok: {len(names)} linears identical for 1, 2, 4 ranks; routing {routing.tolist()}")
EOF

# The same statistics whatever the model's container: its inspect artifact gives the same identity.
if [ -x "$BUILD/squeeze-inspect" ]; then
  "$BUILD/squeeze-inspect" "$MODEL" --out "$WORK/inspect.h5" > /dev/null 2>&1
  "$BUILD/squeeze-calibrate" --config "$WORK/run.yaml" --model "$WORK/inspect.h5" --out "$WORK/cal-inspect.h5" 2> /dev/null
  $PY - "$WORK" <<'EOF'
import sys, h5py
a = h5py.File(f"{sys.argv[1]}/cal1.h5", "r")["calibration"]
b = h5py.File(f"{sys.argv[1]}/cal-inspect.h5", "r")["calibration"]
assert a.attrs["model_tensors_sha256"] == b.attrs["model_tensors_sha256"], "identity differs"
for name in a["linears"]:
    assert a["linears"][name]["absmax"][()].tobytes() == b["linears"][name]["absmax"][()].tobytes(), name
print("ok: inspect artifact calibrates to the same statistics")
EOF
fi

# Config errors: exit 2, message names the problem, no artifact left behind.
expect_fail() { # code config out pattern
  expect "$1" "$4" "$3" "$BUILD/squeeze-calibrate" --config "$2" --model "$MODEL" --out "$3"
}
sed 's/window_length: 96/window_length: 4096/' "$WORK/run.yaml" > "$WORK/long.yaml"
expect_fail 2 "$WORK/long.yaml" "$WORK/long.h5" "window_length 4096 is outside 1..128"
grep -v "calibration:" "$WORK/run.yaml" > "$WORK/nodata.yaml"
expect_fail 2 "$WORK/nodata.yaml" "$WORK/nodata.h5" "data.calibration is not set"
sed 's/windows: 7/window: 7/' "$WORK/run.yaml" > "$WORK/typo.yaml"
expect_fail 2 "$WORK/typo.yaml" "$WORK/typo.h5" "window"
echo "test_calibrate: ok"
