# ruff: noqa
# Exploration script of issue 15 (stop 34), kept as the record of how two-scales.jsonl was
# made; not a maintained benchmark.
"""Issue 15 part 3, stop 34: a second, coarser view of every image against a softer camera.

Half resolution is the camera shift the recipe resists worst (``recentre.py``): the finest
texture it relies on is gone. An image shrunk to 100 px has lost that texture whatever the
camera, so its feature hardly changes under the shift. Here each image is embedded at
200 px (as trained) and shrunk to 100 px; each scale's feature is SimpleShot-centred on the
training images at that scale, and the two are concatenated with equal weight (``both``);
``100`` is the coarse view alone. Same nets, shifts and episodes as ``recentre.py`` (whose
``net``/``neu`` rows are the 200 px reference).

usage: two_scales.py RUN_ROOT
"""

import sys

import torch
import torch.nn.functional as F

from common import DATA, SPLITS, append
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import episodic_accuracy, simpleshot
from oneshot_steel.shifts import camera_shifts
from oneshot_steel.train import load_checkpoint

OUT = "/work/scratch/s34/two-scales.jsonl"


def shrink(images, size=100):
    return F.interpolate(images.float(), size=(size, size), mode="area").round().to(torch.uint8)


if __name__ == "__main__":
    torch.set_num_threads(2)
    root = sys.argv[1]
    imgs = load_neu(DATA, size=200)
    for split_name in ("reverse", "main"):
        sp0 = one_shot_split(imgs, *SPLITS[split_name], seed=0)
        shifted = camera_shifts(sp0.test.images)
        for seed in (0, 1, 2):
            sp = one_shot_split(imgs, *SPLITS[split_name], seed=seed)
            net = load_checkpoint(f"{root}/{split_name}/seed{seed}", weights="best")[0].eval()
            ref200 = embed(net, sp.train.images)
            ref100 = embed(net, shrink(sp.train.images))
            for shift, images in shifted.items():
                f200 = simpleshot(embed(net, images), ref200)
                f100 = simpleshot(embed(net, shrink(images)), ref100)
                feats = {"100": f100, "both": F.normalize(torch.cat([f200, f100], dim=1), dim=1)}
                for view, f in feats.items():
                    row = {"split": split_name, "seed": seed, "shift": shift, "view": view}
                    for k in (1, 5):
                        r = episodic_accuracy(f, sp.test, 3, k, 15, 2000, 0)
                        row[f"{k}shot"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
                    append(OUT, row)
