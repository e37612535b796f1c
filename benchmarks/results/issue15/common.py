# ruff: noqa
"""What the issue-15 exploration scripts share (stop 28 on): paths, the two splits, the
recipe's quick-length config and the scoring every row uses. Records, not maintained code."""

import json, sys

import torch

sys.path.insert(0, "/work/main/src")
from oneshot_steel.config import TrainConfig
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import episodic_accuracy, simpleshot

torch.set_num_threads(2)
DATA = "/work/shared/data/neu-cls"
SPLITS = {  # training classes, test classes; the reverse split is the one that selects
    "main": (["RS", "Pa", "In"], ["Cr", "PS", "Sc"]),
    "reverse": (["Cr", "PS", "Sc"], ["RS", "Pa", "In"]),
}
RECIPE_QUICK = TrainConfig(
    model="compact",
    width=32,
    embedding_dim=64,
    crop_size=64,
    lr=1e-3,
    epochs=4,
    episodes_per_epoch=50,
    val_episodes=100,
    n_way=3,
    k_shot=5,
    n_query=10,
    ssl_batch=48,
    temperature=0.2,
)


def score(net, split, suffix="", episodes=2000):
    """3-way 1- and 5-shot on the split's test classes, SimpleShot features, episode seed 0."""
    f = simpleshot(embed(net, split.test), embed(net, split.train))
    row = {}
    for k in (1, 5):
        r = episodic_accuracy(f, split.test, 3, k, 15, episodes, 0)
        row[f"{k}shot{suffix}"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
    return row


def append(path, row):
    print(json.dumps(row), flush=True)
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")
