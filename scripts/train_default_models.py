#!/usr/bin/python3
"""Trains squeeze's bundled default models on Jane Austen's novels, byte level.

Two small next-byte models ship in tests/data/bundled/ so that every stage and
test has a real trained network to compress and evaluate:

  itera_tiny_bytes       Itera-Lite SSM+MoE, "tiny" shape (docs/itera-lite.md 1.1)
  transformer_tiny_bytes Itera-Lite's Transformer baseline (docs/itera-lite.md 1.6)

Both use the PyTorch reference tests/reference/itera_ref.py, so the state_dict
key names are exactly Itera-Lite's.  Unlike Itera-Lite's Phase 3/4 training
(which shifted the targets twice and so learned token t+2, docs/itera-lite.md
0.2), the loss here is computed from the logits with a single shift: logits at
position t are scored against byte t+1.

Data: tests/data/bundled/austen_train.txt and austen_val.txt (the split is
defined in tests/data/bundled/README.md).  Evaluation uses the same windows for
every model and baseline: non-overlapping 257-byte spans of the validation text
(stride 256), each predicting its last 256 bytes from the bytes before them in
the span.

Usage (Debian's python, torch 1.13):
  /usr/bin/python3 scripts/train_default_models.py extract      # only to rebuild the text (needs R)
  /usr/bin/python3 scripts/train_default_models.py baselines
  /usr/bin/python3 scripts/train_default_models.py train --family itera --minutes 12
  /usr/bin/python3 scripts/train_default_models.py train --family transformer --minutes 12
  /usr/bin/python3 scripts/train_default_models.py evaluate tests/data/bundled/itera_tiny_bytes.pt

The two trainings are meant to run concurrently, one thread each.  Training
length is set by wall clock: after 20 timed steps the script fixes the total
number of steps that fit in --minutes, so the learning-rate schedule is a
function of the step count (printed and stored in the checkpoint; pass --steps
to repeat a run step for step).
"""

import argparse
import json
import math
import os
import struct
import sys
import time
from collections import OrderedDict

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/torch load OpenBLAS: one thread per run
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED = os.path.join(ROOT, "tests", "data", "bundled")
TRAIN_TEXT = os.path.join(BUNDLED, "austen_train.txt")
VAL_TEXT = os.path.join(BUNDLED, "austen_val.txt")

# The text: Jane Austen's six novels as the R package janeaustenr ships them
# (Debian r-cran-janeaustenr), one line per element of austen_books()$text.
EXTRACT_COMMAND = ["Rscript", "-e", 'library(janeaustenr); writeLines(austen_books()$text, stdout())']
FULL_TEXT_SHA256 = "f2516f2139e3cecf49657122fed58ac46313f1fdff32a26fc66789293e92d573"  # 4,025,029 bytes
# The split: training = bytes [0, 3823824), validation = [3823824, end) -- the
# first line boundary at or after int(0.95 * 4025029) = 3823777, so that the
# validation text (201,205 bytes, the end of Persuasion) starts on a whole line.
SPLIT_BYTE = 3823824

SEQ_LEN = 256  # = max_seq_length of both models
VOCAB = 256    # byte level

# "tiny" shape of docs/itera-lite.md 1.1 (get_tiny_config) with a byte vocabulary;
# field names are itera_ref.IteraConfig's.  Training uses no dropout (itera_ref
# has none; 12 minutes on 3.8 MB is far from overfitting).
ITERA_TINY = OrderedDict(
    vocab=VOCAB, hidden=128, layers=4, state=8, conv=4, expand=2, experts=4, expert_size=64,
    top_k=2, moe_layers=[1, 3], max_seq=SEQ_LEN, eps=1e-5)
# get_transformer_tiny_config of docs/itera-lite.md 1.6 with a byte vocabulary
# (itera_ref.TransformerConfig field names).
TRANSFORMER_TINY = OrderedDict(
    vocab=VOCAB, hidden=128, layers=4, heads=4, ffn_size=512, max_seq=SEQ_LEN, eps=1e-5)

FAMILIES = {
    "itera": ("itera_tiny_bytes", ITERA_TINY),
    "transformer": ("transformer_tiny_bytes", TRANSFORMER_TINY),
}


def read_bytes(path):
    with open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8).astype(np.int64)


def eval_windows(data):
    """Non-overlapping [SEQ_LEN+1]-byte spans, stride SEQ_LEN; the tail that
    does not fill a span is left out."""
    n = (len(data) - 1) // SEQ_LEN
    return np.stack([data[i * SEQ_LEN:i * SEQ_LEN + SEQ_LEN + 1] for i in range(n)])


def extract(args):
    """Rebuilds austen_train.txt / austen_val.txt from janeaustenr and checks them."""
    import hashlib
    import subprocess
    text = subprocess.run(EXTRACT_COMMAND, check=True, stdout=subprocess.PIPE).stdout
    digest = hashlib.sha256(text).hexdigest()
    if digest != FULL_TEXT_SHA256:
        sys.exit(f"extracted text has sha256 {digest}, expected {FULL_TEXT_SHA256} (other janeaustenr version?)")
    assert text[SPLIT_BYTE - 1:SPLIT_BYTE] == b"\n" and SPLIT_BYTE == text.index(b"\n", int(0.95 * len(text))) + 1
    for path, part in ((TRAIN_TEXT, text[:SPLIT_BYTE]), (VAL_TEXT, text[SPLIT_BYTE:])):
        with open(path, "wb") as f:
            f.write(part)
        print(f"wrote {path}: {len(part)} bytes, sha256 {hashlib.sha256(part).hexdigest()}")


# ---------------------------------------------------------------- n-gram baselines
def ngram_logp(train, order, k):
    """log P(c | h) of an add-k smoothed byte n-gram model:
    P(c | h) = (N(h c) + k) / (N(h) + 256 k), h = the previous order-1 bytes."""
    counts = np.zeros((VOCAB,) * order, dtype=np.float64)
    np.add.at(counts, tuple(train[i:len(train) - order + 1 + i] for i in range(order)), 1.0)
    return np.log(counts + k) - np.log(counts.sum(axis=-1, keepdims=True) + VOCAB * k)


def ngram_perplexity(train, windows, order, k):
    """Scored on exactly the targets the neural models predict (bytes 1..256 of
    every window), with the history truncated to the window as the models see
    it: the first target of a window has one byte of history, so a trigram
    uses the add-k bigram (same k) there."""
    tables = {o: ngram_logp(train, o, k) for o in range(1, order + 1)}
    total, count = 0.0, 0
    for t in range(1, SEQ_LEN + 1):
        o = min(order, t + 1)
        idx = tuple(windows[:, t - o + 1 + j] for j in range(o))
        total += tables[o][idx].sum()
        count += windows.shape[0]
    return math.exp(-total / count)


def baselines(args):
    train = read_bytes(TRAIN_TEXT)
    windows = eval_windows(read_bytes(VAL_TEXT))
    print(f"validation: {windows.shape[0]} windows x {SEQ_LEN} targets = {windows.shape[0] * SEQ_LEN} bytes")
    results = OrderedDict()
    for order, name in ((1, "unigram"), (2, "bigram"), (3, "trigram")):
        for k in (1.0, 0.1, 0.01):
            ppl = ngram_perplexity(train, windows, order, k)
            results[f"{name} k={k}"] = ppl
            print(f"{name:8s} add-k k={k:<5}: ppl {ppl:.3f}", flush=True)
    return results


# ---------------------------------------------------------------- models
def build_model(family, config):
    sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
    import itera_ref  # noqa: E402  (tests/reference/itera_ref.py)
    if family == "itera":
        return itera_ref.IteraLite(itera_ref.IteraConfig(**config))
    return itera_ref.Transformer(itera_ref.TransformerConfig(**config))


def saved_config(family, config):
    """The checkpoint's plain-dict 'config': itera_ref's config fields, plus
    num_heads for the transformer (its head count is not in any shape), as
    itera_ref.save_checkpoint writes it."""
    out = dict(config)
    if family == "transformer":
        out["num_heads"] = out["heads"]
    return out


def model_logits(model, x):
    return model(x)


def model_aux_loss(model):
    """Itera-Lite's load-balancing loss of the last forward (0 for the transformer)."""
    return model.aux_loss()


def evaluate(model, windows, batch=16):
    import torch
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, windows.shape[0], batch):
            chunk = torch.from_numpy(windows[i:i + batch])
            logits = model_logits(model, chunk[:, :-1])
            # single shift: logits[:, t] predicts chunk[:, t+1]
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]).double(), chunk[:, 1:].reshape(-1), reduction="sum")
            total += loss.item()
            count += chunk[:, 1:].numel()
    return math.exp(total / count)


def lr_at(step, total_steps, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))


def save_safetensors(path, state_dict, metadata):
    """safetensors: 8-byte little-endian header length, a JSON header mapping each
    name to dtype/shape/data_offsets, then the raw little-endian data.
    lm_head.weight is left out: it is the same tensor as embedding.weight (tied),
    and safetensors cannot express shared storage."""
    header = OrderedDict()
    header["__metadata__"] = metadata
    blobs, offset = [], 0
    for name, tensor in state_dict.items():
        if name == "lm_head.weight":
            continue
        arr = tensor.detach().cpu().contiguous().numpy()
        dtype = {np.dtype("float32"): "F32", np.dtype("int64"): "I64", np.dtype("bool"): "BOOL"}[arr.dtype]
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)  # keep the data 8-byte aligned
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def read_safetensors(path):
    """Reads back what save_safetensors wrote: (metadata, {name: numpy array})."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    dtypes = {"F32": "<f4", "I64": "<i8", "BOOL": "?"}
    tensors = OrderedDict()
    for name, info in header.items():
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=dtypes[info["dtype"]]).reshape(
            info["shape"])
    return metadata, tensors


def check_safetensors(path, state_dict):
    """Every tensor but the tied head round trips bit for bit."""
    _, tensors = read_safetensors(path)
    expected = [k for k in state_dict if k != "lm_head.weight"]
    assert list(tensors) == expected, f"{path}: keys differ from the state_dict"
    for name in expected:
        assert np.array_equal(tensors[name], state_dict[name].numpy()), f"{path}: {name} differs"


def train(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    name, config = FAMILIES[args.family]
    config = OrderedDict(config)
    model = build_model(args.family, config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{name}: {n_params} parameters, config {dict(config)}", flush=True)

    train_data = torch.from_numpy(read_bytes(TRAIN_TEXT))
    windows = eval_windows(read_bytes(VAL_TEXT))
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))

    budget = args.minutes * 60.0
    total_steps = args.steps
    start = time.time()
    step = 0
    log_loss = 0.0
    while True:
        if total_steps is None and step == 20:
            per_step = (time.time() - start) / 20
            total_steps = max(21, int(budget / per_step))
            print(f"{per_step:.3f} s/step -> {total_steps} steps", flush=True)
        if total_steps is not None and step >= total_steps:
            break
        lr = lr_at(step, total_steps or 10 ** 9, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        offsets = rng.integers(0, len(train_data) - SEQ_LEN - 1, size=args.batch)
        batch = torch.stack([train_data[o:o + SEQ_LEN + 1] for o in offsets])
        logits = model_logits(model, batch[:, :-1])
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
        loss = ce + model_aux_loss(model)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        log_loss += ce.item()
        step += 1
        if step % 100 == 0:
            print(f"step {step}/{total_steps} lr {lr:.2e} train ce {log_loss / 100:.4f} "
                  f"(ppl {math.exp(log_loss / 100):.3f}) {time.time() - start:.0f}s", flush=True)
            log_loss = 0.0
    wall = time.time() - start
    val_ppl = evaluate(model, windows)
    print(f"{name}: {step} steps in {wall:.1f} s, validation ppl {val_ppl:.4f}", flush=True)

    model.eval()
    state = model.state_dict()
    assert state["lm_head.weight"].data_ptr() == state["embedding.weight"].data_ptr(), "head must be tied"
    os.makedirs(args.out, exist_ok=True)
    training = OrderedDict(
        text="Jane Austen, six novels (R package janeaustenr), tests/data/bundled/austen_train.txt",
        target="next byte (t+1)", steps=step, batch=args.batch, seq_len=SEQ_LEN, lr=args.lr,
        warmup=args.warmup, schedule="linear warmup, cosine to 0.1*lr", optimizer="AdamW(0.9,0.95) wd 0.1",
        seed=args.seed, threads=args.threads, wall_seconds=round(wall, 1),
        val_ppl=round(val_ppl, 4), parameters=n_params, torch=torch.__version__)
    pt_path = os.path.join(args.out, name + ".pt")
    torch.save({"model_state_dict": state, "config": saved_config(args.family, config), "training": dict(training)}, pt_path + ".tmp")
    os.replace(pt_path + ".tmp", pt_path)
    save_safetensors(os.path.join(args.out, name + ".safetensors"), state,
                     {"format": "pt", "family": args.family, "config": json.dumps(saved_config(args.family, config)),
                      "tied": "lm_head.weight = embedding.weight (omitted)",
                      "training": json.dumps(dict(training))})
    check_safetensors(os.path.join(args.out, name + ".safetensors"), state)
    with open(os.path.join(args.out, name + ".train.json"), "w") as f:
        json.dump(training, f, indent=1)
    print(f"wrote {pt_path}", flush=True)


def evaluate_file(args):
    """Validation perplexity of a saved .pt, and a check that the .safetensors
    beside it holds the same tensors."""
    import torch
    torch.set_num_threads(args.threads)
    ckpt = torch.load(args.checkpoint, map_location="cpu")
    config = ckpt["config"]
    family = "transformer" if "num_heads" in config else "itera"
    model = build_model(family, {k: v for k, v in config.items() if k != "num_heads"})
    model.load_state_dict(ckpt["model_state_dict"])
    state = model.state_dict()
    assert state["lm_head.weight"].data_ptr() == state["embedding.weight"].data_ptr(), "head must be tied"
    print(f"{args.checkpoint}: validation ppl {evaluate(model, eval_windows(read_bytes(VAL_TEXT))):.4f}")
    st_path = os.path.splitext(args.checkpoint)[0] + ".safetensors"
    if os.path.exists(st_path):
        check_safetensors(st_path, ckpt["model_state_dict"])
        print(f"{st_path}: same tensors (lm_head.weight omitted, tied)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("extract", help="rebuild the train/validation text from janeaustenr (needs R)")
    sub.add_parser("baselines", help="unigram/bigram/trigram add-k perplexities on the validation windows")
    t = sub.add_parser("train", help="train one default model")
    t.add_argument("--family", choices=sorted(FAMILIES), required=True)
    t.add_argument("--minutes", type=float, default=12.0)
    t.add_argument("--steps", type=int, default=None, help="fixed step count (overrides --minutes)")
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--warmup", type=int, default=100)
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--out", default=BUNDLED)
    e = sub.add_parser("evaluate", help="validation perplexity of a saved .pt; checks its .safetensors")
    e.add_argument("checkpoint")
    e.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    {"extract": extract, "baselines": baselines, "train": train, "evaluate": evaluate_file}[args.command](args)


if __name__ == "__main__":
    main()
