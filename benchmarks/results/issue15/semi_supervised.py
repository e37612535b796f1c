# ruff: noqa
# Exploration script of issue 15 (stop 28), kept as the record of how semi-supervised.jsonl
# was made; not a maintained benchmark. Same training as explore.py's `ssl_unlab` (2026-12-02),
# now for three seeds.
"""Issue 15, stop 28: the semi-supervised protocol over three training seeds.

NT-Xent (the recipe, quick length) on the training-class images *and* the unlabelled images
of the test classes (NT-Xent never reads a label); the best epoch is still chosen on
validation episodes of the training classes, and SimpleShot still centres on the training
images. Scored inductively (SimpleShot) and transductively (soft k-means, beta 5, 3 steps).
A protocol of its own: it has seen the test images, so its rows never mix with the
inductive ones.

usage: semi_supervised.py SPLIT:SEED ...
"""

import sys, time
from dataclasses import replace

import torch

from common import DATA, RECIPE_QUICK, SPLITS, append, both_protocols
from oneshot_steel.data import load_neu
from oneshot_steel.data.imageset import ImageSet
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot
from oneshot_steel.tasks import SelfSupervisedTask
from oneshot_steel.train import _fit, load_checkpoint

OUT = "/tmp/s28/semi"

imgs = load_neu(DATA, size=200)
for token in sys.argv[1:]:
    split_name, seed = token.split(":")
    cfg = replace(RECIPE_QUICK, seed=int(seed))
    sp = one_shot_split(imgs, *SPLITS[split_name], seed=cfg.seed)
    classes = list(sp.train.classes) + list(sp.test.classes)
    fit_set = ImageSet(
        torch.cat([sp.train.images, sp.test.images]),
        torch.cat([sp.train.labels, sp.test.labels + len(sp.train.classes)]),
        classes,
        list(sp.train.paths) + list(sp.test.paths),
    )
    val_set = ImageSet(sp.val.images, sp.val.labels, classes, list(sp.val.paths))
    run = f"{OUT}/{split_name}/seed{seed}"
    t0 = time.perf_counter()
    _fit(SelfSupervisedTask, cfg, fit_set, val_set, run, None, True, False)
    row = {"protocol": "semi-supervised", "split": split_name, "seed": cfg.seed}
    row["train_s"] = round(time.perf_counter() - t0, 1)
    net = load_checkpoint(run, weights="best")[0].eval()
    row |= both_protocols(simpleshot(embed(net, sp.test), embed(net, sp.train)), sp.test, 2000)
    row["n_train_images"] = len(fit_set)
    append(f"{OUT}/results.jsonl", row)
