# ruff: noqa
"""Issue 15 (2026-12-04, stop 29): photometric augmentation of the *support* at test time.

The recipe's feature is not invariant to grey level (training it to be costs accuracy on the
selection split), yet PS plates vary in brightness more than any other class. Instead of a
brightness-invariant feature, enrol each support image under several grey-level changes and
give a query the distance to the nearest of them (or to their mean). The queries stay as
they are; inductive (each query alone). Features: SimpleShot with the training images' mean.

usage: support_augmentation.py OUT.jsonl RUN_DIR:SPLIT:SEED ...
"""

import sys

import torch

from common import append, score, trained_runs
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot
from oneshot_steel.sampling import EpisodeSampler


def shifted(images, offset=0.0, gain=1.0):
    """uint8 images with their contrast x gain around each image's mean, then + offset."""
    x = images.float()
    m = x.mean((1, 2, 3), keepdim=True)
    return (m + (x - m) * gain + offset).round().clamp(0, 255).to(torch.uint8)


SETS = {  # name -> the grey-level changes a support is enrolled under: (offset, gain)
    "brightness +-20": [(o, 1.0) for o in (-20, 0, 20)],
    "brightness +-40": [(o, 1.0) for o in (-40, -20, 0, 20, 40)],
    "brightness +-80": [(o, 1.0) for o in (-80, -40, 0, 40, 80)],
    "contrast x0.7-1.4": [(0, g) for g in (0.7, 1.0, 1.4)],
}


def accuracy(f0, fa, labels, k_shot, rule, episodes=2000):
    """3-way k-shot, 15 queries per class, episode seed 0 (the episodes of ``score``)."""
    eps = EpisodeSampler(labels, 3, k_shot, 15, seed=0).sample(episodes)
    q = f0[eps.query.flatten(1)]  # [E, 45, D]
    s = fa[:, eps.support]  # [A, E, 3, K, D]
    if rule == "mean":
        protos = s.mean(dim=(0, 3))  # [E, 3, D]
        d = torch.cdist(q, protos)
    else:  # nearest enrolled version: min over changes of the distance to each change's mean
        protos = s.mean(dim=3)  # [A, E, 3, D]
        d = torch.stack([torch.cdist(q, p) for p in protos]).amin(0)
    hit = d.argmin(-1) == torch.arange(3).repeat_interleave(15)
    return round(100 * hit.double().mean().item(), 2)


out = sys.argv[1]
for (run, split_name, seed), split, net in trained_runs(sys.argv[2:]):
    base = embed(net, split.train)
    f0 = simpleshot(embed(net, split.test), base)
    row = {"run": run, "split": split_name, "seed": seed, "inductive": score(net, split)}
    for name, changes in SETS.items():
        fa = torch.stack(
            [simpleshot(embed(net, shifted(split.test.images, o, g)), base) for o, g in changes]
        )
        for rule in ("nearest", "mean"):
            acc = {k: accuracy(f0, fa, split.test.labels, k, rule) for k in (1, 5)}
            append(out, row | {"support_set": name, "rule": rule, "1shot": acc[1], "5shot": acc[5]})
