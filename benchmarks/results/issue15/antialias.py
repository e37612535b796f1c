# ruff: noqa
# Exploration script of issue 15 (stop 36), kept as the record of how antialias.jsonl was
# made; not a maintained benchmark.
"""Issue 15, stop 36: downsampling without aliasing inside the net.

The compact net halves its maps three times with 2 x 2 max pooling. Sampling every second
position of a map aliases its fine texture into coarser patterns that move when the image
shifts by one pixel (Zhang, ICML 2019), and a texture's fine structure is what the
unseen classes of the paper's split differ by (crazing, pits, scratches). Two ways to halve
the maps without it, everything else the recipe at quick length (the recipe's stop-33 runs,
``finetune.py``'s ``base``, are the reference):

- ``blurpool``: max over 2 x 2 windows at stride 1, then a 3 x 3 binomial blur at stride 2
  (reflect padding): Zhang's MaxBlurPool, no new weight;
- ``avgpool``: 2 x 2 average pooling (a box filter before the subsampling).

usage: antialias.py VARIANT:SPLIT:SEED ...
"""

import os, sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import train_and_score
from oneshot_steel.tasks import SelfSupervisedTask

OUT = os.environ.get("ANTIALIAS_OUT", "/work/scratch/s36/antialias")


class MaxBlurPool(nn.Module):
    def __init__(self, channels):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        k = (k[:, None] * k[None, :]) / 16
        self.register_buffer("kernel", k.expand(channels, 1, 3, 3).clone(), persistent=False)

    def forward(self, x):
        if len(x) > 64:  # embedding 512 whole images at once: the stride-1 maps need 16 GB
            return torch.cat([self(part) for part in x.split(64)])
        x = F.max_pool2d(x, 2, stride=1)
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        return F.conv2d(x, self.kernel.to(x.dtype), stride=2, groups=x.shape[1])


def antialiased(net, name):
    w = net.width
    for pool, channels in (("pool1", w), ("pool2", 2 * w), ("pool3", 4 * w)):
        setattr(
            net.features, pool, MaxBlurPool(channels) if name == "blurpool" else nn.AvgPool2d(2)
        )
    return net


if __name__ == "__main__":
    torch.set_num_threads(2)
    train_and_score(sys.argv[1:], OUT, lambda name: SelfSupervisedTask, patch=antialiased)
