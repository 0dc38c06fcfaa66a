#!/usr/bin/env bash
# test_report.sh - squeeze-report on a real run folder built by the real stage executables:
# inspect -> calibrate -> evaluate baseline (store_logprobs) -> compress with 3 recipes ->
# evaluate each against the baseline, plus one variant whose compress really fails (recorded in
# plan.json as the driver records it).  Checks: the page opened in headless Chromium (every
# variant, verdict and plot in the DOM), every number of report.json equal to its artifact (h5py),
# the verdicts and the recommendation recomputed from the artifacts, the failed variant shown with
# its log; bad inputs (no evaluations, a missing baseline, artifacts of another model mixed in)
# refused with exit 3 and a message.  SQ_REPORT_KEEP=DIR keeps the run folder and a screenshot.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cd "$WORK"
sq_mpi_env

# The bundled byte-level Itera model (SSM + MoE, trained on Austen); the micro Itera-Lite
# checkpoint (predicts t+2) when the bundled one is absent.
if [ -f "$DATA/bundled/itera_tiny_bytes.pt" ]; then
  MODEL=$DATA/bundled/itera_tiny_bytes.pt TOKENIZER=bytes OFFSET=1
  TEXT_CAL="{path: $DATA/bundled/austen_train.txt, end: 0.01}"
  TEXT_EVAL="{path: $DATA/bundled/austen_val.txt, end: 0.2}"
else
  MODEL=$DATA/itera-lite/itera_lite_micro_distilled.pt TOKENIZER=$DATA/itera-lite/tokenizer_2000.json OFFSET=2
  TEXT_CAL="{path: $DATA/itera-lite/tinystories_train.txt, end: 0.9}"
  TEXT_EVAL="{path: $DATA/itera-lite/tinystories_train.txt, start: 0.9}"
fi
FOREIGN=$DATA/bundled/transformer_tiny_bytes.pt # another model, for the mixed-artifacts check

config() { # file checkpoint tokenizer offset
  cat > "$1" <<YAML
run: reportdemo
model:
  checkpoint: $2
data:
  tokenizer: $3
  calibration: $TEXT_CAL
  evaluation: $TEXT_EVAL
calibrate:
  windows: 4
  window_length: 64
evaluate:
  window_length: 128
  max_windows: 8
  offset: $4
  store_logprobs: true
targets:
  compression: 2.0
  quality: 3.0
YAML
}
config run.yaml "$MODEL" "$TOKENIZER" $OFFSET

# stage DIR PROGRAM ARGS...: runs a stage with its log in DIR/stage.log, as the driver lays out a run.
stage() {
  local dir=$1; shift
  mkdir -p "$dir"
  "$@" > "$dir/stdout.txt" 2> "$dir/stage.log" || { cat "$dir/stage.log" >&2; fail "$* exited $?"; }
}

RUN=$WORK/results/reportdemo
echo "== building $RUN with the stage executables"
stage "$RUN/inspect" "$BUILD/squeeze-inspect" "$MODEL" --config run.yaml --out "$RUN/inspect/inspect.h5"
stage "$RUN/calibrate/c0" "$BUILD/squeeze-calibrate" --config run.yaml --model "$RUN/inspect/inspect.h5" \
  --out "$RUN/calibrate/c0/calibration.h5"
stage "$RUN/evaluate/baseline" "$BUILD/squeeze-evaluate" --config run.yaml --model "$RUN/inspect/inspect.h5" \
  --out "$RUN/evaluate/baseline/evaluation.h5"
VARIANTS="int8 nf4 ssm-mixed"
for v in $VARIANTS; do
  stage "$RUN/compress/$v" "$BUILD/squeeze-compress" --config run.yaml --model "$RUN/inspect/inspect.h5" \
    --calibration "$RUN/calibrate/c0/calibration.h5" --map "$SRC/configs/recipes/$v.yaml" \
    --out "$RUN/compress/$v/model.h5"
  stage "$RUN/evaluate/$v" "$BUILD/squeeze-evaluate" --config run.yaml --model "$RUN/compress/$v/model.h5" \
    --baseline "$RUN/evaluate/baseline/evaluation.h5" --out "$RUN/evaluate/$v/evaluation.h5" --variant "$v" \
    --key "k-evaluate-$v" # the key plan.json below gives evaluate/$v
done

# A pruned variant (the run config's compress.prune, as a sweep sets it): a quarter of the experts
# by routing counts, then nf4; the report places it on the same plot, as a square.
PRUNED=experts25_nf4
{ cat run.yaml; printf 'compress:\n  prune: {experts: 0.25}\n'; } > pruned.yaml
stage "$RUN/compress/$PRUNED" "$BUILD/squeeze-compress" --config pruned.yaml --model "$RUN/inspect/inspect.h5" \
  --calibration "$RUN/calibrate/c0/calibration.h5" --map "$SRC/configs/recipes/nf4.yaml" \
  --out "$RUN/compress/$PRUNED/model.h5"
stage "$RUN/evaluate/$PRUNED" "$BUILD/squeeze-evaluate" --config run.yaml --model "$RUN/compress/$PRUNED/model.h5" \
  --baseline "$RUN/evaluate/baseline/evaluation.h5" --out "$RUN/evaluate/$PRUNED/evaluation.h5" --variant "$PRUNED" \
  --key "k-evaluate-$PRUNED"

# A variant that really fails: a precision map whose rule names no tensor stops compress.
cat > broken.yaml <<'YAML'
description: "names a tensor the model does not have"
rules:
  - pattern: "layers.*.no_such_tensor.weight"
    format: int8
default: fp16
YAML
mkdir -p "$RUN/compress/broken"
set +e
"$BUILD/squeeze-compress" --config run.yaml --model "$RUN/inspect/inspect.h5" --map broken.yaml \
  --out "$RUN/compress/broken/model.h5" 2> "$RUN/compress/broken/stage.log"
BROKEN_EXIT=$?
set -e
[ "$BROKEN_EXIT" -ne 0 ] || fail "compress with a map naming no tensor succeeded"
[ ! -e "$RUN/compress/broken/model.h5" ] || fail "a failed compress left a model artifact"

# plan.json as pipeline/driver/plan_json.c writes it after a local run with that failure.
$PY - "$RUN" "$VARIANTS $PRUNED broken" "$BROKEN_EXIT" <<'PY'
import json, sys
run, variants, code = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
def inst(iid, stage, variant, inputs, state, **extra):
    item = {"id": iid, "stage": stage, "variant": variant, "key": "k-" + iid.replace("/", "-"),
            "inputs": inputs, "dir": f"{run}/{iid}", "output": f"{run}/{iid}/x.h5",
            "config": f"{run}/{iid}/config.yaml", "log": f"{run}/{iid}/stage.log", "ranks": 1,
            "state": state, "command": []}
    item.update(extra)
    return item
instances = [inst("inspect", "inspect", "", [], "done"),
             inst("calibrate/c0", "calibrate", "c0", ["inspect"], "done"),
             inst("evaluate/baseline", "evaluate", "baseline", ["inspect"], "done")]
for v in variants:
    failed = v == "broken"
    instances.append(inst(f"compress/{v}", "compress", v, ["inspect", "calibrate/c0"],
                          "failed" if failed else "done", **({"exit_code": code} if failed else {})))
    instances.append(inst(f"evaluate/{v}", "evaluate", v, [f"compress/{v}", "evaluate/baseline"],
                          "missing" if failed else "done"))
instances.append(inst("report", "report", "", [f"evaluate/{v}" for v in variants], "running"))
plan = {"run": "reportdemo", "config": "run.yaml", "run_dir": run, "executor": "local",
        "written_utc": "2026-01-01T00:00:00Z",
        "variants": [{"name": v, "overrides": {"compress.recipe": v}} for v in variants],
        "instances": instances}
json.dump(plan, open(f"{run}/plan.json", "w"), indent=2)
PY

echo "== squeeze-report"
"$BUILD/squeeze-report" --config run.yaml --run-dir "$RUN" --key report-key > report.out 2> report.log \
  || { cat report.log >&2; fail "squeeze-report exited $?"; }
for f in report.md report.json report.html; do
  [ -s "$RUN/report/$f" ] || fail "no $RUN/report/$f"
done
ls "$RUN/report" | grep -q tmp && fail "a temporary file was left in $RUN/report"
grep -q "recommended:" report.log || grep -q "no variant meets both targets" report.log || fail "no recommendation in the log"

echo "== report.json against the artifacts"
$PY - "$RUN" "$BROKEN_EXIT" <<'PY' || fail "report.json disagrees with the artifacts"
import json, os, sys, h5py, numpy as np
run, broken_exit = sys.argv[1], int(sys.argv[2])
report = json.load(open(f"{run}/report/report.json"))
def text(value):
    return value.decode() if isinstance(value, bytes) else value
checked = 0
for entry in [report["baseline"]] + report["variants"]:
    if "measured" not in entry:
        continue
    attrs = h5py.File(entry["source"], "r")["evaluation"].attrs
    for key, value in entry["measured"].items():
        stored = attrs[key].item()
        assert value == stored, f"{entry['name']}.{key}: report {value!r}, artifact {stored!r}"
        assert type(value) is type(stored), f"{entry['name']}.{key}: {type(value)} vs {type(stored)}"
        checked += 1
print(f"{checked} numbers equal to their evaluation artifacts")
assert checked >= 3 * 17 + 12, checked

# verdicts and the recommendation, recomputed from the artifacts
target_c, target_q = report["config"]["targets.compression"], report["config"]["targets.quality"]
smallest = None
names = []
for entry in report["variants"]:
    names.append(entry["name"])
    if entry["name"] == "broken":
        assert entry["verdict"] == "FAILED TO RUN", entry
        assert entry["exit_code"] == broken_exit and entry["failed_stage"] == "compress", entry
        assert entry["log"].endswith("compress/broken/stage.log"), entry
        continue
    e = h5py.File(f"{run}/evaluate/{entry['name']}/evaluation.h5", "r")["evaluation"].attrs
    # sizes against the checkpoint file the user gave (its stat() as inspect recorded it), not inspect.h5
    checkpoint_bytes = int(h5py.File(f"{run}/inspect/inspect.h5", "r")["inspect"].attrs["file_bytes"])
    assert checkpoint_bytes == os.stat(report["model"]["checkpoint"]).st_size
    assert report["size_baseline"] == {"path": report["model"]["checkpoint"], "file_bytes": checkpoint_bytes,
                                       "kind": "checkpoint"}, report["size_baseline"]
    ratio = checkpoint_bytes / e["model_file_bytes"]
    assert abs(entry["derived"]["ratio_size"] - ratio) <= 1e-12 * ratio, (entry["derived"]["ratio_size"], ratio)
    # evaluate ran every variant dequantized (no kernels recorded): speed is not comparable, and not given
    assert entry["derived"]["speed_comparable"] is ("kernels" in e and not str(e["kernels"]).startswith("dequantized"))
    assert entry["derived"]["speed_comparable"] or entry["derived"]["speed_ratio"] is None
    ok_c, ok_q = ratio >= target_c, e["ppl_change_pct"] <= target_q
    verdict = "SUCCESS" if ok_c and ok_q else "PARTIAL" if ok_c else "FAILURE"
    assert entry["verdict"] == verdict, (entry["name"], entry["verdict"], verdict)
    if verdict == "SUCCESS" and (smallest is None or e["model_file_bytes"] < smallest[1]):
        smallest = (entry["name"], e["model_file_bytes"])
    # paired standard error of the change, from the per-window NLL
    b = h5py.File(f"{run}/evaluate/baseline/evaluation.h5", "r")["evaluation"]
    v = h5py.File(f"{run}/evaluate/{entry['name']}/evaluation.h5", "r")["evaluation"]
    d = v["window_nll"][()] - b["window_nll"][()]
    n = v["window_tokens"][()].astype(float)
    D = d.sum() / n.sum()
    se = np.sqrt(((d - D * n) ** 2).sum() * len(n) / (len(n) - 1)) / n.sum()
    want = 100 * np.exp(D) * se
    got = entry["derived"]["ppl_change_stderr_pct"]
    assert abs(got - want) <= 1e-9 * max(1.0, want), (entry["name"], got, want)
    assert entry["stale"] is False and entry["plan_key"] == f"k-evaluate-{entry['name']}", entry["plan_key"]
    # bytes per group sum to the model's accounting
    acc = h5py.File(f"{run}/compress/{entry['name']}/model.h5", "r")["accounting"]
    groups = entry["model"]["groups"]
    assert sum(g["bytes_after"] for g in groups.values()) == int(acc["bytes_after"][()].sum()), entry["name"]
    assert sum(g["bytes_before"] for g in groups.values()) == int(acc["bytes_before"][()].sum()), entry["name"]
    # the model identity: evaluate records the model compress says it compressed, which is the one
    # calibrate ran on and the baseline evaluated
    calib = h5py.File(f"{run}/calibrate/c0/calibration.h5", "r")["calibration"].attrs
    # (a pruned model is the model its /pruning@source_* names, with fewer experts)
    mf = h5py.File(f"{run}/compress/{entry['name']}/model.h5", "r")
    origin = mf["pruning"].attrs if "pruning" in mf else acc.attrs
    assert (entry["model"]["pruning"] is not None) == ("pruning" in mf), entry["name"]
    for key in ("family", "config_json", "model_tensors_sha256", "model_tensor_count"):
        assert text(v.attrs[key]) == text(acc.attrs["source_" + key]), (entry["name"], key)
        assert text(origin["source_" + key]) == text(calib[key]) == text(b.attrs[key]), (entry["name"], key)
assert sorted(names) == sorted(["int8", "nf4", "ssm-mixed", "experts25_nf4", "broken"]), names
pruned = [x for x in report["variants"] if x["name"] == "experts25_nf4"][0]["model"]["pruning"]
assert pruned["amounts"] == "experts 25%" and pruned["experts_removed"] >= 1, pruned
assert report["recommended"] == (smallest[0] if smallest else None), (report["recommended"], smallest)
# the failed variant is listed last, the evaluated ones smallest first
sizes = [x["measured"]["model_file_bytes"] for x in report["variants"] if "measured" in x]
assert sizes == sorted(sizes) and report["variants"][-1]["name"] == "broken"
# expert routing equals the calibration artifact
cal = h5py.File(f"{run}/calibrate/c0/calibration.h5", "r")["calibration/routing"]
layers, counts = cal["layers"][()], cal["expert_tokens"][()]
assert report["expert_routing"] == {f"layer_{l}": [int(c) for c in row] for l, row in zip(layers, counts)}
# provenance: the config keys, the decision matrix from the inspected model, versions
assert report["config"]["inspect.target_hardware"] == "gpu" and report["plan_key"] == "report-key"
assert report["decision_matrix"]["architecture"] == "ssm" and report["decision_matrix"]["recommended"]
assert report["model"]["parameters"] == int(h5py.File(f"{run}/inspect/inspect.h5", "r")["inspect"].attrs["parameters"])
assert report["squeeze_version"] and all(x.get("squeeze_version") for x in report["variants"] if "measured" in x)
print("verdicts, recommendation", report["recommended"], ", standard errors, groups and routing agree")
PY

echo "== the page in headless Chromium"
chrome() { # extra chromium arguments..., then the page
  local profile
  profile=$(mktemp -d)
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$profile" "$@" \
    2> chromium.log
  local code=$?
  rm -rf "$profile"
  return $code
}
chrome --dump-dom "file://$RUN/report/report.html" > dom.html || { tail chromium.log >&2; fail "chromium failed"; }
$PY - dom.html "$RUN" <<'PY' || fail "the page lacks something"
import sys, json, os, re
from html.parser import HTMLParser
dom, run = open(sys.argv[1]).read(), sys.argv[2]
report = json.load(open(f"{run}/report/report.json"))
class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements, self.stack, self.text = [], [], {}
    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
page = Page()
page.feed(dom)
def find(tag=None, **want):
    return [a for t, a in page.elements if (tag is None or t == tag) and all(a.get(k.replace("_", "-")) == v for k, v in want.items())]
for svg in ("plot-tradeoff", "plot-groups", "plot-experts"):
    assert find("svg", id=svg), f"no <svg id={svg}>"
for section in ("recommendation", "scorecard", "failed", "decision-matrix", "provenance"):
    assert find(id=section), f"no #{section}"
for entry in report["variants"]:
    rows = find("tr", data_variant=entry["name"])
    assert rows and rows[0]["data-verdict"] == entry["verdict"], (entry["name"], rows)
    assert f">{entry['verdict']}</span>" in dom, entry["verdict"]
    if "measured" in entry:
        pruned = entry["model"]["pruning"]
        mark = ("point pareto" if entry["derived"]["pareto"] else "point") + (" pruned" if pruned else "")
        assert find("rect" if pruned else "circle", data_variant=entry["name"], **{"class": mark}) \
            or find("path", data_variant=entry["name"]), f"{entry['name']} not in the trade-off plot as {mark}"
        if pruned: # a square, with what was pruned, and the amount in the scorecard row
            assert find("rect", data_variant=entry["name"], data_pruned=pruned["amounts"]), entry["name"]
            row = dom[dom.index(f'<tr class="variant'):]
            row = row[row.index(f'data-variant="{entry["name"]}"'):]
            assert f"pruned: {pruned['amounts']}</span>" in row[:row.index("</tr>")], entry["name"]
    else:
        assert entry["log"] in dom, "the failed variant's log is not shown"
for target in ("compression", "quality"): # a dashed line inside the plot, or a note saying where it lies
    assert find("line", data_target=target) or find("text", data_target=target), f"the {target} target is not shown"
# the file sizes are compared with is the user's checkpoint, named on the page
checkpoint = report["model"]["checkpoint"]
assert find("tr", **{"class": "size-base", "data-file": checkpoint}), "the scorecard does not name the checkpoint"
size = f"{report['size_baseline']['file_bytes']:,} B"
assert f"your checkpoint {os.path.basename(checkpoint)} ({size})" in dom, "the page does not name the size baseline"
assert find("polyline", **{"class": "pareto-front"}) or sum(x.get("derived", {}).get("pareto", False) for x in report["variants"]) < 2
assert find("section", id="recommendation")[0]["data-recommended"] == (report["recommended"] or "")
assert find("svg", id="plot-groups")[0]["data-variant"] == (report["recommended"] or report["closest"])
assert len(find("rect", **{"class": "bar-expert"})) == sum(len(v) for v in report["expert_routing"].values())
assert "http://" not in dom.replace("http://www.w3.org", "") and "https://" not in dom, "the page refers to the network"
assert "<script" not in dom, "the page runs a script"
print("DOM: every variant, verdict and plot is there")
PY
echo "== the trade-off plot as Chromium lays it out: domain, label boxes, error bars"
$PY - "$RUN/report/report.html" measure.html <<'PY'
import sys
page = open(sys.argv[1]).read()
script = '''<script>
const svg = document.getElementById("plot-tradeoff");
const box = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
const out = {area: box(svg.querySelector(".plot-area")), svg: box(svg),
  domain: ["x-min", "x-max", "y-min", "y-max"].map(k => parseFloat(svg.dataset[k.replace("-m", "M")])),
  labels: [...svg.querySelectorAll("text.label")].map(t => ({text: t.textContent, box: box(t)})),
  points: [...svg.querySelectorAll(".point")].map(p => ({variant: p.dataset.variant, box: box(p)})),
  quality_line: svg.querySelector("line[data-target=quality]") !== null,
  bars: [...svg.querySelectorAll("g.error-bar")].map(g => ({variant: g.dataset.variant, box: box(g)}))};
const pre = document.createElement("pre"); pre.id = "measure"; pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>'''
open(sys.argv[2], "w").write(page.replace("</body>", script + "</body>"))
PY
chrome --dump-dom --virtual-time-budget=3000 --window-size=1280,2400 "file://$WORK/measure.html" > measured.html \
  || { tail chromium.log >&2; fail "chromium failed on the measuring page"; }
$PY - measured.html "$RUN" <<'PY' || fail "the trade-off plot is laid out badly"
import sys, json, html, re, h5py
m = json.loads(html.unescape(re.search(r'<pre id="measure">(.*?)</pre>', open(sys.argv[1]).read(), re.S).group(1)))
run = sys.argv[2]
report = json.load(open(f"{run}/report/report.json"))
measured = [v for v in report["variants"] if "measured" in v]
sizes = [v["measured"]["model_file_bytes"] for v in measured]
changes = [(v["measured"]["ppl_change_pct"], v["derived"]["ppl_change_stderr_pct"]) for v in measured]
x_min, x_max, y_min, y_max = m["domain"]
# zoomed to the data: every variant inside, and together they span most of the axis (the checkpoint,
# several times larger, is a marker at the edge, not the end of the axis)
assert x_min <= min(sizes) and max(sizes) <= x_max, (m["domain"], sizes)
assert (max(sizes) - min(sizes)) / (x_max - x_min) >= 0.6, f"the variants fill only part of the x axis {m['domain']}"
data_lo = min([0.0] + [c - e for c, e in changes])
data_hi = max([0.0] + [c + e for c, e in changes])
if m["quality_line"]:  # the threshold joins the axis only when it is near the data
    assert report["config"]["targets.quality"] <= 1.7 * data_hi + 0.1, "a far threshold stretched the y axis"
    data_hi = max(data_hi, report["config"]["targets.quality"])
assert y_min <= data_lo and data_hi <= y_max and (y_max - y_min) <= 1.5 * (data_hi - data_lo) + 0.1, \
    f"y axis {y_min}..{y_max} for data {data_lo}..{data_hi}"
def overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
area, svg = m["area"], m["svg"]
for p in m["points"]:
    b = p["box"]
    assert area[0] <= b[0] and b[2] <= area[2] and area[1] <= b[1] and b[3] <= area[3], f"{p} outside the plot"
labels = m["labels"]
assert len(labels) >= len(measured) + 1, labels  # one per variant, and the checkpoint's
for i, a in enumerate(labels):
    assert svg[0] <= a["box"][0] and a["box"][2] <= svg[2], f"label {a['text']!r} leaves the plot"
    for b in labels[i + 1:]:
        assert not overlap(a["box"], b["box"]), f"labels {a['text']!r} and {b['text']!r} overlap"
    for p in m["points"]:
        assert not overlap(a["box"], p["box"]), f"label {a['text']!r} covers the point of {p['variant']}"
# every error bar is drawn with caps wide enough to see, even when it is short
assert sorted(b["variant"] for b in m["bars"]) == sorted(v["name"] for v in measured), m["bars"]
scale = (svg[2] - svg[0]) / 900  # px per unit of the plot's viewBox
for b in m["bars"]:
    assert b["box"][2] - b["box"][0] >= 10 * scale, f"error bar of {b['variant']} is not visible: {b['box']}"
print(f"plot: x {x_min:.0f}..{x_max:.0f} B for sizes {min(sizes)}..{max(sizes)}, y {y_min:.3g}..{y_max:.3g}%, "
      f"{len(labels)} labels without overlap")
PY
chrome --screenshot="$WORK/report.png" --window-size=1280,2400 "file://$RUN/report/report.html" > /dev/null \
  || fail "chromium could not take a screenshot"
[ -s "$WORK/report.png" ] || fail "no screenshot"
grep -q "FAILED TO RUN" "$RUN/report/report.md" || fail "report.md does not show the failed variant"
grep -q "compress/broken/stage.log" "$RUN/report/report.md" || fail "report.md does not name the failed variant's log"
if [ -n "${SQ_REPORT_KEEP:-}" ]; then
  mkdir -p "$SQ_REPORT_KEEP" && cp -r "$RUN" "$WORK/report.png" "$SQ_REPORT_KEEP/"
fi

echo "== stages run by hand, no plan.json: the failed compress is still listed, with its log"
cp -r "$RUN" no-plan && rm -rf no-plan/plan.json no-plan/report
"$BUILD/squeeze-report" --config run.yaml --run-dir no-plan > /dev/null 2> no-plan.log \
  || { cat no-plan.log >&2; fail "squeeze-report without plan.json exited $?"; }
$PY - no-plan <<'PY' || fail "without plan.json the failed variant is not reported"
import json, sys
report = json.load(open(f"{sys.argv[1]}/report/report.json"))
broken = [v for v in report["variants"] if v["name"] == "broken"]
assert broken and broken[0]["verdict"] == "FAILED TO RUN", broken
assert broken[0]["failed_stage"] == "compress" and broken[0]["log"].endswith("no-plan/compress/broken/stage.log"), broken
assert len([v for v in report["variants"] if "measured" in v]) == 4
PY

echo "== bad inputs"
expect_input_error() { # name pattern run-dir
  local code=0
  "$BUILD/squeeze-report" --config run.yaml --run-dir "$3" > /dev/null 2> "$1.log" || code=$?
  [ $code -eq 3 ] || { cat "$1.log" >&2; fail "$1: exit $code, expected 3"; }
  grep -q "$2" "$1.log" || { cat "$1.log" >&2; fail "$1: the message does not say '$2'"; }
  [ ! -e "$3/report/report.html" ] || fail "$1: a report was written"
  echo "$1: exit 3: $(grep error "$1.log" | head -c 200)"
}
mkdir -p empty/evaluate
expect_input_error no-evaluations "no evaluation artifacts" empty
mkdir -p only-variant/evaluate && cp -r "$RUN/evaluate/int8" only-variant/evaluate/
expect_input_error no-baseline "no evaluation artifacts to report (no .*baseline" only-variant

# Artifacts of another model: the bundled Transformer through the same stages.
config foreign.yaml "$FOREIGN" bytes 1
OTHER=$WORK/results/other
stage "$OTHER/inspect" "$BUILD/squeeze-inspect" "$FOREIGN" --config foreign.yaml --out "$OTHER/inspect/inspect.h5"
stage "$OTHER/evaluate/baseline" "$BUILD/squeeze-evaluate" --config foreign.yaml \
  --model "$OTHER/inspect/inspect.h5" --out "$OTHER/evaluate/baseline/evaluation.h5"
stage "$OTHER/compress/int8" "$BUILD/squeeze-compress" --config foreign.yaml --model "$OTHER/inspect/inspect.h5" \
  --map "$SRC/configs/recipes/int8.yaml" --out "$OTHER/compress/int8/model.h5"
stage "$OTHER/evaluate/int8" "$BUILD/squeeze-evaluate" --config foreign.yaml --model "$OTHER/compress/int8/model.h5" \
  --baseline "$OTHER/evaluate/baseline/evaluation.h5" --out "$OTHER/evaluate/int8/evaluation.h5"

rm -rf "$RUN/report" && cp -r "$RUN" mixed-eval
cp -r "$OTHER/evaluate/int8" mixed-eval/evaluate/transformer-int8
expect_input_error mixed-evaluation "measured against another baseline" mixed-eval
cp -r "$RUN" mixed-model
cp "$OTHER/compress/int8/model.h5" mixed-model/compress/int8/model.h5
expect_input_error mixed-model "different model" mixed-model
cp -r "$RUN" mixed-inspect
cp "$OTHER/inspect/inspect.h5" mixed-inspect/inspect/inspect.h5
expect_input_error mixed-inspect "artifacts of different models" mixed-inspect
# The Transformer's int8 model measured against this run's baseline (same vocabulary and windows, so
# evaluate accepts it): only the model identity evaluate records tells it apart.
stage mixed-identity/evaluate/transformer-int8 "$BUILD/squeeze-evaluate" --config foreign.yaml \
  --model "$OTHER/compress/int8/model.h5" --baseline "$RUN/evaluate/baseline/evaluation.h5" \
  --out mixed-identity/evaluate/transformer-int8/evaluation.h5
cp -r "$RUN"/. mixed-identity/
expect_input_error mixed-identity "evaluates another model than the baseline .*its family is itera-transformer" \
  mixed-identity
# The same family with other tensors: the names+shapes sha256 is compared on its own.
cp -r "$RUN" mixed-tensors
$PY - mixed-tensors/evaluate/nf4/evaluation.h5 <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    f["evaluation"].attrs["model_tensors_sha256"] = np.bytes_("0" * 64)
PY
expect_input_error mixed-tensors "its tensor names and shapes (sha256) is 0000" mixed-tensors

echo "== usage"
code=0; "$BUILD/squeeze-report" > /dev/null 2>&1 || code=$?
[ $code -eq 2 ] || fail "no --run-dir: exit $code, expected 2"
"$BUILD/squeeze-report" --help | grep -q -- "--run-dir" || fail "--help does not describe --run-dir"
echo "PASS"
