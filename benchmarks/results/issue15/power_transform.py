# ruff: noqa
# Exploration script of issue 15 (stop 36), kept as the record of how power-transform.jsonl
# was made; not a maintained benchmark.
"""Issue 15, stop 36: a power transform of the pooled features before SimpleShot (test time).

The pooled features before the projection head are averages of ReLU outputs, so they are
non-negative and, like histograms, skewed: a few channels that fire strongly on one texture
dominate every distance. PT-MAP (Hu et al., ICANN 2021) raises such features to a power
beta < 1 before comparing them (beta = 0.5 is the Hellinger map LBP histograms already get
here); that evens out the channels without learning anything. Measured on the recipe's
stop-33 quick nets (``finetune.py``'s ``base``: no within-class whitening, both splits,
seeds 0-2), against the head feature the recipe scores and the pooled feature untransformed;
every feature is then SimpleShot-centred on the training images and scored on the same
2,000 3-way episodes (episode seed 0). ``head+pooled^beta`` joins the two SimpleShot
features as the coarse view joins its two (``metric.join_views``: each unit vector scaled
by 1/sqrt 2, so each weighs the same in a distance; added after the first run).

usage: power_transform.py
"""

import os, sys

import torch

from common import DATA, SPLITS, append, score_features
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot
from oneshot_steel.metric import join_views
from oneshot_steel.train import load_checkpoint

ROOT = "/work/scratch/s33/ft/base"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "power-transform.jsonl")
BETAS = (1.0, 0.75, 0.5, 0.25)

if __name__ == "__main__":
    torch.set_num_threads(2)
    imgs = load_neu(DATA, size=200)
    for split_name in ("reverse", "main"):
        for seed in (0, 1, 2):
            sp = one_shot_split(imgs, *SPLITS[split_name], seed=seed)
            net = load_checkpoint(f"{ROOT}/{split_name}/seed{seed}", weights="best")[0].eval()
            row = {"split": split_name, "seed": seed}
            head = simpleshot(embed(net, sp.test), embed(net, sp.train))
            row["head"] = score_features(head, sp.test)
            pooled_test, pooled_train = embed(net.features, sp.test), embed(net.features, sp.train)
            assert pooled_test.min() >= 0  # averages of ReLU outputs
            for beta in BETAS:
                f = simpleshot(pooled_test.pow(beta), pooled_train.pow(beta))
                row[f"pooled^{beta}"] = score_features(f, sp.test)
                if beta in (1.0, 0.5):
                    row[f"head+pooled^{beta}"] = score_features(join_views([head, f]), sp.test)
            append(OUT, row)
