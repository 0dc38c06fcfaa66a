"""make_golden.py - reference logits that the C forward pass is tested against.

For each model it writes tests/data/golden/<name>.h5 (h5py) holding:
  attrs   checkpoint  the .pt, relative to tests/data (the test reads it with
                      squeeze's own checkpoint reader)
          family      "itera" or "itera-transformer"
          num_heads   the transformer's head count (0 for itera)
          windows     how many windows follow
  tokens_<w>  int32 [T_w]       the window's token ids
  logits_<w>  float32 [T_w, V]  itera_ref.py's logits, computed in float64

Built-in cases (no arguments, or --builtin):
  micro             the real distilled Itera-Lite micro model
                    (tests/data/itera-lite/, github.com/CisnerosCodes/Itera-Lite, MIT),
                    windows from the val split of tinystories_train.txt
  random-itera      a small seeded random IteraLite (MoE at layers 0 and 2, 3 experts,
                    conv kernel 3), saved to tests/data/golden/random_itera.pt
  random-transformer a small seeded random Transformer (3 heads), saved to
                    tests/data/golden/random_transformer.pt
  random-itera-odd  a seeded random IteraLite whose widths are no multiple of the C
                    code's vector lanes (hidden 18, d_inner 36, state 5, expert size 13,
                    conv kernel 2), saved to tests/data/golden/random_itera_odd.pt
Any other model (the bundled defaults):
  --case NAME=PATH[:HEADS]   two windows of seeded random token ids, of min(64, max_seq)
                             and min(9, max_seq) tokens (short, so the file stays small)

  /usr/bin/python3 tests/reference/make_golden.py
  /usr/bin/python3 tests/reference/make_golden.py \
      --case itera_tiny_bytes=tests/data/bundled/itera_tiny_bytes.pt \
      --case transformer_tiny_bytes=tests/data/bundled/transformer_tiny_bytes.pt:4
"""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import itera_ref as R  # noqa: E402
from golden_io import DATA, randomise_parameters, seeded_windows, write_golden as write_file  # noqa: E402


def randomise(model, seed):
    """Weights far from their init, so that every tensor (LN affine, biases, A_log, D)
    visibly changes the logits and a wrong index anywhere is caught."""
    gen = randomise_parameters(model, seed, [(r"norm\.weight$|\.ln.*\.weight$", 0.3, 1.0), (r"bias$", 0.2, 0.0),
                                             (r"A_log$", 0.7, 0.0), (r"\.D$", 1.0, 0.0), (r"embedding", 0.7, 0.0)],
                               matrices_only=True)
    with torch.no_grad():
        for name, b in model.named_buffers():
            if name.endswith("expert_counts"):
                b.copy_(torch.rand(b.shape, generator=gen))
    return model


def builtin_random(out_dir):
    torch.manual_seed(1)
    itera = randomise(R.IteraLite(R.IteraConfig(
        vocab=97, hidden=32, layers=3, state=4, conv=3, expand=2, experts=3, expert_size=24,
        top_k=2, moe_layers=[0, 2], max_seq=40)), seed=11)
    transformer = randomise(R.Transformer(R.TransformerConfig(
        vocab=101, hidden=48, layers=2, heads=3, ffn_size=80, max_seq=40)), seed=12)
    odd = randomise(R.IteraLite(R.IteraConfig(
        vocab=53, hidden=18, layers=2, state=5, conv=2, expand=2, experts=3, expert_size=13,
        top_k=2, moe_layers=[1], max_seq=24)), seed=13)
    paths = []
    for name, model in (("random_itera", itera), ("random_transformer", transformer), ("random_itera_odd", odd)):
        path = os.path.join(out_dir, name + ".pt")
        R.save_checkpoint(model, path)
        paths.append(path)
    return paths


RANDOM_WINDOW = 64  # longest random window: long enough for the scan and positions, small on disk


def random_windows(name, vocab, max_seq):
    return seeded_windows(name, vocab, (min(RANDOM_WINDOW, max_seq), min(9, max_seq)))


def text_windows(text_path, tokenizer_path, max_seq):
    with open(text_path, encoding="utf-8") as fh:
        text = fh.read()
    ids = R.word_ids(text[int(0.9 * len(text)):], tokenizer_path)  # val split (itera-lite.md 2.2)
    return [np.array(ids[:max_seq], dtype=np.int32), np.array(ids[1000:1009], dtype=np.int32)]


def family_of(model):
    return "itera-transformer" if isinstance(model, R.Transformer) else "itera"


def write_case(out_dir, name, pt_path, heads, windows=None):
    model = R.load_checkpoint(pt_path, heads)
    ref = model.double().eval()
    if windows is None:
        windows = random_windows(name, model.cfg.vocab, model.cfg.max_seq)
    out = os.path.join(out_dir, name + ".h5")
    logits = write_file(out, pt_path, family_of(model), int(getattr(model.cfg, "heads", 0)), windows,
                        lambda ids: ref(ids)[0], "tests/reference/make_golden.py (itera_ref.py, float64)")
    print(f"{out}: {family_of(model)} from {pt_path}, windows {[len(w) for w in windows]}, "
          f"logit range [{logits.min().item():.3f}, {logits.max().item():.3f}]")


def main():
    ap = argparse.ArgumentParser(description="Writes golden logits for the C forward pass test.")
    ap.add_argument("--out", default=os.path.join(DATA, "golden"))
    ap.add_argument("--builtin", action="store_true", help="the micro and random cases (default without --case)")
    ap.add_argument("--case", action="append", default=[], metavar="NAME=PATH[:HEADS]")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    if args.builtin or not args.case:
        lite = os.path.join(DATA, "itera-lite")
        write_case(args.out, "micro", os.path.join(lite, "itera_lite_micro_distilled.pt"), None,
                   text_windows(os.path.join(lite, "tinystories_train.txt"),
                                os.path.join(lite, "tokenizer_2000.json"), 128))
        itera_pt, transformer_pt, odd_pt = builtin_random(args.out)
        write_case(args.out, "random_itera", itera_pt, None)
        write_case(args.out, "random_transformer", transformer_pt, None)
        write_case(args.out, "random_itera_odd", odd_pt, None)
    for case in args.case:
        name, _, spec = case.partition("=")
        path, _, heads = spec.partition(":")
        write_case(args.out, name, path, int(heads) if heads else None)


if __name__ == "__main__":
    main()
