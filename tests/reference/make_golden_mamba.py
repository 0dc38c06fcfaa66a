"""make_golden_mamba.py - golden logits of the Mamba family for the C forward pass test.

Same file layout as make_golden.py (tests/data/golden/<name>.h5), computed in
float64 by mamba_ref.py (sequential scans written from the Mamba and Mamba-2
papers and the reference implementations; see its docstring).

Random cases (seeded, mamba_ref.randomise), each <name>.safetensors + <name>.config.json:
  mamba1_random     Mamba-1, backbone. prefix, d 24, d_inner 48, state 5, conv 4, dt_rank 3
  mamba1_noprefix   Mamba-1 without backbone., d 18, d_inner 36, state 4, conv 3, dt_rank 2
  mamba2_random     Mamba-2, backbone., d 32, d_inner 64, 8 heads of 8, 2 groups, state 6, conv 4
  mamba2_noprefix   Mamba-2 without backbone., d 20, d_inner 40, 4 heads of 10, 1 group, state 5
The bundled model is a --case NAME=DIR (DIR/model.safetensors + DIR/config.json).

  /usr/bin/python3 tests/reference/make_golden_mamba.py
  /usr/bin/python3 tests/reference/make_golden_mamba.py --case mamba_tiny=tests/data/bundled/mamba_tiny
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mamba_ref as M  # noqa: E402
from golden_io import golden_cases, seeded_windows, write_golden as write_file  # noqa: E402


def write_golden(out_dir, name, model, checkpoint):
    ref = model.double().eval()
    path = os.path.join(out_dir, name + ".h5")
    logits = write_file(path, checkpoint, "mamba", 0, seeded_windows(name, model.cfg.vocab, (40, 9)),
                        lambda ids: ref(ids)[0],
                        f"tests/reference/make_golden_mamba.py (mamba_ref.py, Mamba-{model.version}, float64)")
    model.float()
    print(f"{path}: {checkpoint}, Mamba-{model.version}, "
          f"logit range [{logits.min().item():.3f}, {logits.max().item():.3f}]")


def builtin(out_dir):
    cases = [
        ("mamba1_random", "backbone.", M.Mamba1(M.Mamba1Config(vocab=41, d_model=24, layers=2, d_inner=48, state=5,
                                                               conv=4, dt_rank=3)), 31),
        ("mamba1_noprefix", "", M.Mamba1(M.Mamba1Config(vocab=37, d_model=18, layers=2, d_inner=36, state=4, conv=3,
                                                        dt_rank=2, eps=1e-6)), 32),
        ("mamba2_random", "backbone.", M.Mamba2(M.Mamba2Config(vocab=43, d_model=32, layers=2, d_inner=64, state=6,
                                                               conv=4, heads=8, groups=2)), 33),
        ("mamba2_noprefix", "", M.Mamba2(M.Mamba2Config(vocab=29, d_model=20, layers=2, d_inner=40, state=5, conv=4,
                                                        heads=4, groups=1)), 34),
    ]
    for name, prefix, model, seed in cases:
        M.randomise(model, seed)
        st = os.path.join(out_dir, name + ".safetensors")
        M.save_hf(model, st, os.path.join(out_dir, name + ".config.json"), prefix)
        write_golden(out_dir, name, model, st)


def main():
    out, cases = golden_cases(__doc__)
    if not cases:
        builtin(out)
    for name, directory in cases:
        model = M.load_hf(os.path.join(directory, "model.safetensors"), os.path.join(directory, "config.json"))
        write_golden(out, name, model, os.path.join(directory, "model.safetensors"))


if __name__ == "__main__":
    main()
