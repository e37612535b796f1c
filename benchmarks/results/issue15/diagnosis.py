# ruff: noqa
"""Issue 15 (2026-12-04, stop 29): where the recipe's one-shot errors are, and why.

For each net: leave-one-out 1-nearest-neighbour over the other test images (per class), the
mean cosine similarity of two different images of one class, and the confusion of 2,000
3-way 1-shot episodes (episode seed 0, 15 queries per class); SimpleShot features centred
on the training images. With ``--data-stats``: the per-class spread of every NEU image's mean
grey level and contrast at 200 px.

usage: diagnosis.py OUT.jsonl [--data-stats] RUN_DIR:SPLIT:SEED ...
"""

import sys

import torch
import torch.nn.functional as F

from common import DATA, append, trained_runs
from oneshot_steel.data import load_neu
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import episodic_accuracy, simpleshot

out, tokens = sys.argv[1], sys.argv[2:]
if "--data-stats" in tokens:
    tokens.remove("--data-stats")
    d = load_neu(DATA, size=200)
    x = d.images.float()
    mean, contrast = x.mean(dim=(1, 2, 3)), x.std(dim=(1, 2, 3))
    stats = {}
    for i, c in enumerate(d.classes):
        m, s = mean[d.labels == i], contrast[d.labels == i]
        stats[c] = {
            k: round(v.item(), 1)
            for k, v in {
                "grey_mean": m.mean(),
                "grey_mean_sd": m.std(),
                "contrast": s.mean(),
                "contrast_sd": s.std(),
            }.items()
        }
    append(out, {"data_stats": stats})
for (run, split_name, seed), split, net in trained_runs(tokens):
    f = F.normalize(simpleshot(embed(net, split.test), embed(net, split.train)), dim=1)
    y, classes = split.test.labels, split.test.classes
    sim = f @ f.T
    sim.fill_diagonal_(-2)
    nearest = y[sim.argmax(dim=1)]
    sim.fill_diagonal_(0)
    row = {
        "run": run,
        "split": split_name,
        "seed": seed,
        "loo_1nn_right": {},
        "intra_class_cosine": {},
    }
    for i, c in enumerate(classes):
        members = y == i
        n = int(members.sum())
        row["loo_1nn_right"][c] = f"{int((nearest[members] == i).sum())}/{n}"
        row["intra_class_cosine"][c] = round(
            sim[members][:, members].sum().item() / (n * (n - 1)), 3
        )
    r = episodic_accuracy(f, split.test, 3, 1, 15, 2000, 0)
    cm = torch.tensor(r.confusion)
    errors = cm.sum() - cm.trace()
    row |= {"1shot": round(100 * r.mean, 2), "confusion": r.confusion, "errors": int(errors)}
    append(out, row)
