# ruff: noqa
# Exploration script of issue 15 (stop 28): how many dimensions the SimpleShot features use.
"""Effective rank (exp of the entropy of the normalised PCA spectrum, Roy & Vetterli 2007) and
the variance share of the top principal directions, of the centred test-class features.

usage: effective_rank.py RUN_DIR:SPLIT:SEED[:LABEL] ...
"""

import sys

import torch

from common import append, trained_runs
from oneshot_steel.embedding import embed

OUT = "/tmp/s28/effective-rank.jsonl"


def spectrum(f):
    s = torch.linalg.svdvals(f.double() - f.double().mean(0)) ** 2
    p = s / s.sum()
    rank = float(torch.exp(-(p * torch.log(p + 1e-30)).sum()))
    share = {f"top{k}": round(float(p[:k].sum()), 4) for k in (1, 2, 4, 8)}
    return {"effective_rank": round(rank, 2), **share}


for (run, split_name, seed, *label), sp, net in trained_runs(sys.argv[1:]):
    row = {"run": label[0] if label else run, "split": split_name, "seed": seed}
    row["head_test"] = spectrum(embed(net, sp.test))
    append(OUT, row)
