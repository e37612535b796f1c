# ruff: noqa
# Exploration script of issue 15 (stop 35), kept as the record of how coarse-view.jsonl was
# made; not a maintained benchmark.
"""Issue 15 part 3, stop 35: the coarse view as the package builds it.

``two_scales.py`` (stop 34) joined a 200 px and a 100 px feature by re-centring the net's
finished outputs. The package's version, ``metric.add_coarse_view``, finishes the half-size
view with statistics of its own (its mean raw feature over the training images and its own
within-class whitening, strength 10 as in the recipe), the way training fits them for the
image itself, and leaves the image's own statistics as trained. This re-scores the same
nets, shifts and episodes through it (``view`` = ``coarse``), and through the int8 copy of
the net and of the joined view without a shift (``int8`` / ``coarse-int8``). The rows of the
net as shipped are recentre.py's ``neu`` rows.

usage: coarse_view.py RUN_ROOT
"""

import json, os, sys

import torch

from common import append, score_features, shifted_nets
from oneshot_steel.deploy import quantize_static_int8
from oneshot_steel.embedding import embed
from oneshot_steel.metric import add_coarse_view

OUT = os.environ.get("COARSE_VIEW_OUT", "/work/scratch/s35/coarse-view.jsonl")


def done_rows():
    """Keys of the rows already written: a stopped run resumes where it was."""
    if not os.path.exists(OUT):
        return set()
    rows = [json.loads(line) for line in open(OUT)]
    return {(r["split"], r["seed"], r["shift"], r["view"]) for r in rows}


if __name__ == "__main__":
    torch.set_num_threads(2)
    done = done_rows()
    for split_name, seed, sp, net, shifted in shifted_nets(sys.argv[1]):
        coarse = add_coarse_view(net, sp.train.images, sp.train.labels, 10.0)
        # The net as shipped is scored by recentre.py on the same nets and episodes (its
        # "neu" rows; re-scored here for the first two shifts of one net: the same digits).
        # The int8 copies are scored without a shift only: their cost in accuracy.
        for shift, images in shifted.items():
            views = {"coarse": lambda: coarse}
            if shift == "none":
                g = torch.Generator().manual_seed(0)
                calibration = sp.train.images[torch.randperm(len(sp.train), generator=g)[:256]]
                views |= {
                    "int8": lambda: quantize_static_int8(net, calibration),
                    "coarse-int8": lambda: quantize_static_int8(coarse, calibration),
                }
            for view, build in views.items():
                if (split_name, seed, shift, view) in done:
                    continue
                row = {"split": split_name, "seed": seed, "shift": shift, "view": view}
                append(OUT, row | score_features(embed(build(), images), sp.test))
