"""random_itera.py - writes the random-initialised Itera model the benchmarks run.

  /usr/bin/python3 scripts/random_itera.py OUT.pt

43.3M parameters (d 512, 8 layers, 4 of them MoE with 4 experts of 1024, vocabulary
2000: 173 MB of fp32), seed 36, saved by tests/reference/itera_ref.py as torch.save
does (storages stored uncompressed in the zip).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import itera_ref  # noqa: E402

torch.manual_seed(36)
cfg = itera_ref.IteraConfig(vocab=2000, hidden=512, layers=8, state=8, conv=4, expand=2, experts=4,
                            expert_size=1024, top_k=2, moe_layers=[1, 3, 5, 7], max_seq=256)
itera_ref.save_checkpoint(itera_ref.IteraLite(cfg), sys.argv[1])
