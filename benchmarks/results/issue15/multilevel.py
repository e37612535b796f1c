# ruff: noqa
# Exploration script of issue 15 (stop 36), kept as the record of how multilevel.jsonl was
# made; not a maintained benchmark.
"""Issue 15, stop 36: the head reads the averages of earlier blocks too, in training.

The recipe's head reads only the global average of block 4 (receptive field 38 px). Crazing,
pits and scratches are fine textures, the kind LBP describes from 3-7 px neighbourhoods,
and LBP is what gains on them. Pooling earlier blocks as well was tried at *test time* on
nets trained without it (`pooling.py`, blocks 3 + 4: -5 points on the reverse split); here
the head is *trained* on the concatenated global averages of several blocks, so NT-Xent
itself decides what of the finer scales the embedding keeps. No new layer but a wider head
(the averages cost nothing); everything else the recipe at quick length:

- ``multilevel``: blocks 2, 3 and 4 (64 + 128 + 128 numbers into the head);
- ``multilevel34``: blocks 3 and 4.

usage: multilevel.py VARIANT:SPLIT:SEED ...
"""

import os, sys

import torch
import torch.nn as nn

from common import train_and_score
from oneshot_steel.tasks import SelfSupervisedTask

OUT = os.environ.get("MULTILEVEL_OUT", "/work/scratch/s36/multilevel")
BLOCKS = {"multilevel": ("block2", "block3", "block4"), "multilevel34": ("block3", "block4")}


class MultiLevelPooling(nn.Module):
    """The compact net's feature stack, returning the global averages of ``blocks`` joined."""

    def __init__(self, features, blocks):
        super().__init__()
        self.stack = features
        self.blocks = blocks

    def forward(self, x):
        pooled = []
        for name, layer in self.stack.named_children():
            if name in ("gap", "flatten"):
                continue
            x = layer(x)
            if name in self.blocks:
                pooled.append(x.mean((2, 3)))
        return torch.cat(pooled, dim=1)


def multilevel(net, name):
    w = net.width
    channels = {"block2": 2 * w, "block3": 4 * w, "block4": 4 * w}
    net.features = MultiLevelPooling(net.features, BLOCKS[name])
    net.head = nn.Linear(sum(channels[b] for b in BLOCKS[name]), net.embedding_dim)
    return net


if __name__ == "__main__":
    torch.set_num_threads(2)
    train_and_score(sys.argv[1:], OUT, lambda name: SelfSupervisedTask, patch=multilevel)
