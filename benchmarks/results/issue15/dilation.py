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

import os, sys

import torch

from common import train_and_score
from oneshot_steel.tasks import SelfSupervisedTask

OUT = os.environ.get("DILATION_OUT", "/work/scratch/s34/dilation")
BLOCKS = {"dil4": ("block4",), "dil34": ("block3", "block4")}


def dilated(net, name):
    for block in BLOCKS[name]:
        conv = getattr(net.features, block)[0]
        conv.dilation, conv.padding = (2, 2), (2, 2)
    return net


if __name__ == "__main__":
    torch.set_num_threads(2)
    train_and_score(sys.argv[1:], OUT, lambda name: SelfSupervisedTask, patch=dilated)
