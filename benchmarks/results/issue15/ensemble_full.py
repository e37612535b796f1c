# ruff: noqa
"""Issue 15 (2026-12-04, stop 29): the feature ensemble of the three full-length seeds of the
final table (their SimpleShot features concatenated, one model of three times the cost),
10,000 3-way episodes of Cr/PS/Sc, episode seed 0, inductive and transductive (beta 5).

usage: ensemble_full.py OUT.jsonl RUN_DIR:main:SEED ...
"""

import sys

import torch

from common import append, trained_runs
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import episodic_accuracy, simpleshot
from oneshot_steel.transductive import transductive_accuracy

feats, test = [], None
for (run, split_name, seed), split, net in trained_runs(sys.argv[2:]):
    feats.append(simpleshot(embed(net, split.test), embed(net, split.train)))
    # the same 900 test images in the same order for every seed (checked)
    assert test is None or torch.equal(test.images, split.test.images)
    test = split.test
f = torch.cat(feats, dim=1) / len(feats) ** 0.5  # unit length again
row = {"runs": sys.argv[2:], "members": len(feats)}
for k in (1, 5):
    r = episodic_accuracy(f, test, 3, k, 15, 10000, 0)
    t = transductive_accuracy(f, test, 3, k, 15, 10000, 0, beta=5.0)
    row[f"{k}shot"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
    row[f"{k}shot_transductive"] = [round(100 * t.mean, 2), round(100 * t.ci95, 2)]
append(sys.argv[1], row)
