#!/usr/bin/python3
"""Trains squeeze's bundled Llama and Mamba default models on Jane Austen's novels.

  llama_tiny   Llama-style (tests/reference/llama_ref.py): dim 128, 5 layers, 4 heads,
               2 KV heads, SwiGLU 384, tied head, RoPE theta 10000, RMSNorm eps 1e-5.
               Every matrix dimension is a multiple of 32 (ggml block formats apply).
  mamba_tiny   Mamba-1 (tests/reference/mamba_ref.py): d_model 64, 4 layers, d_inner 128,
               state 8, conv 4, dt_rank 4, tied head (0.15M parameters: the scan's
               elementwise work made anything larger too slow to train on a shared CPU).
               Trained with mamba_ref.parallel_scan; after training the sequential scan
               (the reference of the goldens) is checked to give the same logits.

Both read the text through the bundled 512-token byte-level BPE tokenizer
(tests/data/bundled/bpe512/tokenizer.json, GPT-2 style); its encoder is
re-implemented below for training only (merges by rank inside GPT-2
pre-tokenizer chunks; Python's re has no \\p{L}/\\p{N}, so the chunk regex
uses the nearest standard classes, which agree on the ASCII Austen text).
Same split and recipe as scripts/train_default_models.py (docs/default-models.md):
AdamW (0.9, 0.95), weight decay 0.1 on matrices, peak lr 3e-3, 30 warmup
steps then cosine to 0.1 lr, batch 8 windows of 257 tokens, clip 1.0, seed 1234.

Evaluation: the non-overlapping 257-token windows of the tokenized validation
text (stride 256), each predicting its last 256 tokens; printed per token and
per byte of the text the scored tokens cover (exp(total nll / bytes)), so that
it compares with the byte-level models and n-gram baselines.

  /usr/bin/python3 scripts/train_family_models.py train --family llama --steps 250
  /usr/bin/python3 scripts/train_family_models.py train --family mamba --steps 200 --seq 128 --lr 4e-3
  /usr/bin/python3 scripts/train_family_models.py evaluate --family llama

Writes tests/data/bundled/<name>/: model.safetensors (HF names), config.json,
train.json, and for llama model.bin (llama2.c legacy format).
"""

import argparse
import json
import math
import os
import sys
import time
from collections import OrderedDict

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED = os.path.join(ROOT, "tests", "data", "bundled")
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
from gpt2_bytes import CHUNK, bytes_to_unicode  # noqa: E402

TRAIN_TEXT = os.path.join(BUNDLED, "austen_train.txt")
VAL_TEXT = os.path.join(BUNDLED, "austen_val.txt")
TOKENIZER = os.environ.get("SQ_TOKENIZER", os.path.join(BUNDLED, "bpe512", "tokenizer.json"))
SEQ_LEN = 256


class ByteBPE:
    """GPT-2 byte-level BPE over a tokenizer.json: lowest-rank merge first, per chunk."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            tok = json.load(f)
        self.vocab = tok["model"]["vocab"]
        self.size = max(self.vocab.values()) + 1
        for added in tok.get("added_tokens", []):
            self.size = max(self.size, added["id"] + 1)
        merges = tok["model"]["merges"]
        self.ranks = {tuple(m.split(" ") if isinstance(m, str) else m): i for i, m in enumerate(merges)}
        self.byte_char = bytes_to_unicode()
        self.cache = {}

    def chunk_ids(self, chunk):
        symbols = [self.byte_char[b] for b in chunk.encode("utf-8")]
        while len(symbols) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(symbols, symbols[1:]))]
            rank, i = min(pairs)
            if rank == 1 << 30:
                break
            symbols[i:i + 2] = [symbols[i] + symbols[i + 1]]
        return [self.vocab[s] for s in symbols]

    def encode(self, text):
        out = []
        for chunk in CHUNK.findall(text):
            ids = self.cache.get(chunk)
            if ids is None:
                ids = self.cache[chunk] = self.chunk_ids(chunk)
            out.extend(ids)
        return out

    def token_bytes(self):
        inv = {c: b for b, c in self.byte_char.items()}
        lengths = np.zeros(self.size, dtype=np.int64)
        for s, i in self.vocab.items():
            lengths[i] = len(s) if all(c in inv for c in s) else 0
        return lengths


def tokens(path, bpe):
    with open(path, encoding="utf-8") as f:
        return np.array(bpe.encode(f.read()), dtype=np.int64)


def eval_windows(data):
    n = (len(data) - 1) // SEQ_LEN
    return np.stack([data[i * SEQ_LEN:i * SEQ_LEN + SEQ_LEN + 1] for i in range(n)])


def gpt_init(model, residual_suffixes):
    """llama2.c model.py _init_weights: N(0, 0.02) for matrices and embeddings, the
    projections into the residual stream N(0, 0.02 / sqrt(2 layers)); norms stay 1."""
    import torch
    layers = model.cfg.layers
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2 and "conv" not in name:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(residual_suffixes) else 0.02
                torch.nn.init.normal_(p, mean=0.0, std=std)
    return model


def llama_model(vocab):
    import llama_ref as L
    cfg = L.LlamaConfig(vocab=vocab, dim=128, layers=5, heads=4, kv_heads=2, hidden=384, max_seq=SEQ_LEN,
                        eps=1e-5, theta=10000.0, tied=True)
    return gpt_init(L.Llama(cfg), ("wo.weight", "w2.weight"))


def mamba_model(vocab):
    import mamba_ref as M
    M.Mamba1Mixer.parallel = True  # training: log2(T) doubling steps (mamba_ref.parallel_scan)
    return M.Mamba1(M.Mamba1Config(vocab=vocab, d_model=64, layers=4, d_inner=128, state=8, conv=4, dt_rank=4,
                                   eps=1e-5), init=True)


FAMILIES = {"llama": ("llama_tiny", llama_model), "mamba": ("mamba_tiny", mamba_model)}


def evaluate(model, windows, token_bytes, batch=16):
    import torch
    model.eval()
    total, count, nbytes = 0.0, 0, 0
    with torch.no_grad():
        for i in range(0, windows.shape[0], batch):
            chunk = torch.from_numpy(windows[i:i + batch])
            logits = model(chunk[:, :-1])
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).double(),
                                                     chunk[:, 1:].reshape(-1), reduction="sum")
            total += loss.item()
            count += chunk[:, 1:].numel()
            nbytes += int(token_bytes[chunk[:, 1:].numpy()].sum())
    return math.exp(total / count), math.exp(total / nbytes), count, nbytes


def lr_at(step, total, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))


def save(family, model, out_dir, training):
    os.makedirs(out_dir, exist_ok=True)
    if family == "llama":
        import llama_ref as L
        L.save_hf(model, os.path.join(out_dir, "model.safetensors"), os.path.join(out_dir, "config.json"))
        L.save_llama2c(model, os.path.join(out_dir, "model.bin"))
    else:
        import mamba_ref as M
        M.save_hf(model, os.path.join(out_dir, "model.safetensors"), os.path.join(out_dir, "config.json"))
    with open(os.path.join(out_dir, "train.json"), "w") as f:
        json.dump(training, f, indent=1)
        f.write("\n")


def load(family, out_dir):
    if family == "llama":
        import llama_ref as L
        with open(os.path.join(out_dir, "config.json")) as f:
            c = json.load(f)
        cfg = L.LlamaConfig(vocab=c["vocab_size"], dim=c["hidden_size"], layers=c["num_hidden_layers"],
                            heads=c["num_attention_heads"], kv_heads=c["num_key_value_heads"],
                            hidden=c["intermediate_size"], max_seq=c["max_position_embeddings"],
                            eps=c["rms_norm_eps"], theta=c["rope_theta"], tied=c["tie_word_embeddings"])
        return L.load_hf(os.path.join(out_dir, "model.safetensors"), cfg)
    import mamba_ref as M
    return M.load_hf(os.path.join(out_dir, "model.safetensors"), os.path.join(out_dir, "config.json"))


def train(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    bpe = ByteBPE(TOKENIZER)
    name, build = FAMILIES[args.family]
    model = build(bpe.size)
    n_params = sum(p.numel() for p in model.parameters())
    t0 = time.time()
    train_ids = torch.from_numpy(tokens(TRAIN_TEXT, bpe))
    val = eval_windows(tokens(VAL_TEXT, bpe))
    print(f"{name}: {n_params} parameters; train {len(train_ids)} tokens, val {val.shape[0]} windows "
          f"(tokenized in {time.time() - t0:.1f} s)", flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    start, log_loss = time.time(), 0.0
    for step in range(args.steps):
        lr = lr_at(step, args.steps, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        offsets = rng.integers(0, len(train_ids) - args.seq - 1, size=args.batch)
        batch = torch.stack([train_ids[o:o + args.seq + 1] for o in offsets])
        logits = model(batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        log_loss += loss.item()
        if (step + 1) % 50 == 0:
            print(f"step {step + 1}/{args.steps} lr {lr:.2e} train ce {log_loss / 50:.4f} "
                  f"{time.time() - start:.0f}s", flush=True)
            log_loss = 0.0
    wall = time.time() - start
    ppl_tok, ppl_byte, count, nbytes = evaluate(model, val, bpe.token_bytes())
    print(f"{name}: {args.steps} steps in {wall:.1f} s, validation ppl {ppl_tok:.4f} per token, "
          f"{ppl_byte:.4f} per byte ({count} tokens, {nbytes} bytes)", flush=True)
    training = OrderedDict(
        text="Jane Austen, six novels (R package janeaustenr), tests/data/bundled/austen_train.txt",
        tokenizer="tests/data/bundled/bpe512/tokenizer.json", target="next token (t+1)", steps=args.steps,
        batch=args.batch, seq_len=args.seq, lr=args.lr, warmup=args.warmup,
        schedule="linear warmup, cosine to 0.1*lr", optimizer="AdamW(0.9,0.95) wd 0.1", seed=args.seed,
        threads=args.threads, wall_seconds=round(wall, 1), val_ppl_per_token=round(ppl_tok, 4),
        val_ppl_per_byte=round(ppl_byte, 4), val_tokens=count, val_bytes=nbytes, parameters=n_params,
        torch=torch.__version__)
    if args.family == "mamba":
        import mamba_ref as M
        M.Mamba1Mixer.parallel = False  # the sequential scan (the goldens' reference) on the trained weights
        seq = evaluate(model, val[:8], bpe.token_bytes())[0]
        M.Mamba1Mixer.parallel = True
        par = evaluate(model, val[:8], bpe.token_bytes())[0]
        print(f"8 validation windows: ppl {seq:.6f} with the sequential scan, {par:.6f} with the parallel one")
        assert abs(seq - par) < 1e-3 * seq
    save(args.family, model, os.path.join(args.out, name), training)
    reloaded = load(args.family, os.path.join(args.out, name))
    again = evaluate(reloaded, val, bpe.token_bytes())
    print(f"reloaded from {os.path.join(args.out, name)}: ppl {again[0]:.4f} per token", flush=True)


def evaluate_saved(args):
    import torch
    torch.set_num_threads(args.threads)
    bpe = ByteBPE(TOKENIZER)
    name, _ = FAMILIES[args.family]
    model = load(args.family, os.path.join(args.out, name))
    ppl_tok, ppl_byte, count, nbytes = evaluate(model, eval_windows(tokens(VAL_TEXT, bpe)), bpe.token_bytes())
    print(f"{name}: validation ppl {ppl_tok:.4f} per token, {ppl_byte:.4f} per byte ({count} tokens, {nbytes} bytes)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for cmd in ("train", "evaluate"):
        s = sub.add_parser(cmd)
        s.add_argument("--family", choices=sorted(FAMILIES), required=True)
        s.add_argument("--threads", type=int, default=1)
        s.add_argument("--out", default=BUNDLED)
        if cmd == "train":
            s.add_argument("--steps", type=int, default=250)
            s.add_argument("--batch", type=int, default=8)
            s.add_argument("--seq", type=int, default=SEQ_LEN, help="training window (evaluation stays 256)")
            s.add_argument("--lr", type=float, default=3e-3)
            s.add_argument("--warmup", type=int, default=30)
            s.add_argument("--seed", type=int, default=1234)
    args = p.parse_args()
    {"train": train, "evaluate": evaluate_saved}[args.command](args)


if __name__ == "__main__":
    main()
