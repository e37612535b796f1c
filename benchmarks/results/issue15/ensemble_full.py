# ruff: noqa
"""Issue 15 (2026-12-04, stop 29): the feature ensemble of the three full-length seeds of the
final table (their SimpleShot features concatenated, one model of three times the cost),
10,000 3-way episodes of Cr/PS/Sc, episode seed 0, inductive and transductive (beta 5).

usage: ensemble_full.py OUT.jsonl RUN_DIR:main:SEED ...
"""

import sys

import torch

from common import append, both_protocols, trained_runs
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot

feats, test = [], None
for (run, split_name, seed), split, net in trained_runs(sys.argv[2:]):
    feats.append(simpleshot(embed(net, split.test), embed(net, split.train)))
    # the same 900 test images in the same order for every seed (checked)
    assert test is None or torch.equal(test.images, split.test.images)
    test = split.test
f = torch.cat(feats, dim=1) / len(feats) ** 0.5  # unit length again
append(sys.argv[1], {"runs": sys.argv[2:], "members": len(feats)} | both_protocols(f, test, 10000))
