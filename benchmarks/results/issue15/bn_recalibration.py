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

from common import append, score, trained_runs
from oneshot_steel.augment import to_model_input

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


t0 = time.perf_counter()
for (run, split_name, seed), sp, net in trained_runs(sys.argv[1:]):
    row = {"run": run, "split": split_name, "seed": seed}
    row |= score(net, sp)
    row |= score(recalibrated(net, sp.train.images), sp, "_bn_train")
    row |= score(recalibrated(net, sp.test.images), sp, "_bn_test_unlabelled")
    row["seconds"] = round(time.perf_counter() - t0, 1)
    append(OUT, row)
    t0 = time.perf_counter()
