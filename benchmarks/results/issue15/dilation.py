# ruff: noqa
# Exploration script of issue 15 (stop 34), kept as the record of how dilation.jsonl was
# made; not a maintained benchmark.
"""Issue 15, stop 34: a larger receptive field without more layers (dilated convolutions).

A unit of the compact net's last block sees about 38 px of the input. A scratch is a line
that crosses the 200 px image; a pit is a spot. A fifth block (more depth, one more
pooling) lost on the selection split (`explore3.py`). Here the receptive field grows with
no new weight: the 3x3 convolutions of the last block (``dil4``: about 54 px) or of the last
two blocks (``dil34``: about 70 px) are dilated by 2 (padding 2, same output size). The
recipe at quick length; the recipe's runs of stop 33 (``finetune.py``'s ``base``) are the
reference.

usage: dilation.py VARIANT:SPLIT:SEED ...   (VARIANT: dil4 | dil34)
"""

import os, sys, time
from dataclasses import replace

import torch

from common import DATA, RECIPE_QUICK, SPLITS, append, best_and_last, score
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.models import CompactEmbeddingNet
from oneshot_steel.tasks import SelfSupervisedTask
import oneshot_steel.train as T
from oneshot_steel.train import _fit

OUT = os.environ.get("DILATION_OUT", "/work/scratch/s34/dilation")
BLOCKS = {"dil4": ("block4",), "dil34": ("block3", "block4")}


def dilated(net, name):
    for block in BLOCKS[name]:
        conv = getattr(net.features, block)[0]
        conv.dilation, conv.padding = (2, 2), (2, 2)
    return net


if __name__ == "__main__":
    torch.set_num_threads(2)
    imgs = load_neu(DATA, size=200)
    orig_build = T.build_from_spec
    for token in sys.argv[1:]:
        name, split_name, seed = token.split(":")
        T.build_from_spec = lambda spec, n=name: dilated(orig_build(spec), n)
        cfg = replace(RECIPE_QUICK, seed=int(seed))
        sp = one_shot_split(imgs, *SPLITS[split_name], seed=cfg.seed)
        run = f"{OUT}/{name}/{split_name}/seed{seed}"
        t0 = time.perf_counter()
        _fit(SelfSupervisedTask, cfg, sp.train, sp.val, run, None, True, False)
        row = {"variant": name, "split": split_name, "seed": cfg.seed}
        row["train_s"] = round(time.perf_counter() - t0, 1)
        make = lambda n=name: dilated(CompactEmbeddingNet(cfg.embedding_dim, cfg.width), n)
        for suffix, net in best_and_last(run, make):
            row |= score(net, sp, suffix)
        row["load"] = open("/proc/loadavg").read().split()[0]
        append(f"{OUT}/results.jsonl", row)
