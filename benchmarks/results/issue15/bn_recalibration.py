# ruff: noqa
# Exploration script of issue 15 (stop 28), kept as the record of how bn-recalibration.jsonl
# was made (nets: explore2.py base runs, /tmp/s27/runs/base/SPLIT/seedN); not a maintained benchmark.
"""Issue 15, stop 28: BatchNorm statistics re-estimated for the test-time input.

The recipe trains on augmented 64 px windows, so BatchNorm's running statistics describe
those; at test time the net sees whole, unaugmented 200 px images. Re-estimating the
statistics (cumulative average, weights untouched) on whole images:
- of the *training* classes (inductive: nothing from the test classes), `bn_train`;
- of the unlabelled *test*-class images (AdaBN, Li et al. 2017): another protocol, since it
  reads the unlabelled test images, `bn_test_unlabelled` (own rows, never mixed).
SimpleShot centring always uses the training images' features of the same net.

usage: bn_recalibration.py RUN_DIR:SPLIT:SEED ...
"""

import copy, sys, time

import torch

from common import DATA, SPLITS, append, score
from oneshot_steel.augment import to_model_input
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.train import load_checkpoint

OUT = "/tmp/s28/bn-recalibration.jsonl"


def recalibrated(net, images, batch=60):
    net = copy.deepcopy(net)
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over all batches
    net.train()
    with torch.no_grad():
        for chunk in images.split(batch):
            net(to_model_input(chunk))
    return net.eval()


imgs = load_neu(DATA, size=200)
for token in sys.argv[1:]:
    run, split_name, seed = token.split(":")
    sp = one_shot_split(imgs, *SPLITS[split_name], seed=int(seed))
    t0 = time.perf_counter()
    net = load_checkpoint(run, weights="best")[0].eval()
    row = {"run": run, "split": split_name, "seed": int(seed)}
    row |= score(net, sp)
    row |= score(recalibrated(net, sp.train.images), sp, "_bn_train")
    row |= score(recalibrated(net, sp.test.images), sp, "_bn_test_unlabelled")
    row["seconds"] = round(time.perf_counter() - t0, 1)
    append(OUT, row)
