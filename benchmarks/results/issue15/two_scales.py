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

import os, sys

import torch
import torch.nn.functional as F

from common import append, score_features, shifted_nets
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot

OUT = os.environ.get("TWO_SCALES_OUT", "/work/scratch/s34/two-scales.jsonl")


def shrink(images, size=100):
    return F.interpolate(images.float(), size=(size, size), mode="area").round().to(torch.uint8)


if __name__ == "__main__":
    torch.set_num_threads(2)
    for split_name, seed, sp, net, shifted in shifted_nets(sys.argv[1]):
        ref200 = embed(net, sp.train.images)
        ref100 = embed(net, shrink(sp.train.images))
        for shift, images in shifted.items():
            f200 = simpleshot(embed(net, images), ref200)
            f100 = simpleshot(embed(net, shrink(images)), ref100)
            feats = {"100": f100, "both": F.normalize(torch.cat([f200, f100], dim=1), dim=1)}
            for view, f in feats.items():
                row = {"split": split_name, "seed": seed, "shift": shift, "view": view}
                append(OUT, row | score_features(f, sp.test))
