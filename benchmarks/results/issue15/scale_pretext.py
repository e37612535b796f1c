# ruff: noqa
# Exploration script of issue 15 (stop 36), kept as the record of how scale-pretext.jsonl
# was made; not a maintained benchmark.
"""Issue 15, stop 36: predicting the relative scale of two windows (an equivariance pretext).

Evidence so far: making NT-Xent's two views differ in scale cost 4.5-11 points (`augexp.py`),
and standardising grey levels cost 15-22: the net's few strong statistics are grey level,
contrast and the texture's scale, and any invariance to them throws away what tells the
unseen classes apart. This asks for the opposite of invariance to scale: besides the
recipe's NT-Xent (two 64 px windows at the image's own scale), a third window of each image
is cut with side s x 64 px, s log-uniform in [1/2, 2], and resized to 64 px; a small head
reads the pooled features (before the projection) of the first window and of the third and
predicts log2 s (mean squared error). To answer, the pooled feature must say at what scale
the texture's structures are, for any texture: a cue that should carry to unseen classes
(rotation prediction, Gidaris et al. 2019, is the classic pretext of this kind; turns are
an invariance here, so scale takes its place). Everything else is the recipe at quick
length; the recipe's stop-33 runs (``finetune.py``'s ``base``) are the reference.

- ``scale-pretext``: weight 1 on the scale loss;
- ``scale-pretext-0.3``: weight 0.3.

usage: scale_pretext.py VARIANT:SPLIT:SEED ...
"""

import math, os, sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import train_and_score, windows_at
from oneshot_steel.augment import augment_batch
from oneshot_steel.losses import nt_xent_loss
from oneshot_steel.tasks import SelfSupervisedTask

OUT = os.environ.get("SCALE_PRETEXT_OUT", "/work/scratch/s36/scale-pretext")
LOW, HIGH = 0.5, 2.0


def scaled_windows(images, size, gen):
    """Per image, a random square window of side s * size px (log2 s uniform in
    [log2 LOW, log2 HIGH]) resized to size px; returns (windows uint8, log2 s)."""
    u = torch.rand((len(images), 3), generator=gen, device=images.device)
    log2_s = math.log2(LOW) + (math.log2(HIGH) - math.log2(LOW)) * u[:, 0]
    side = (2**log2_s) * size / images.shape[2]  # the window's side as a fraction of the image
    return windows_at(images, size, side, u[:, 1:]), log2_s


class ScalePretext(SelfSupervisedTask):
    weight = 1.0

    def loss(self, batch, gen):
        c = self.cfg
        images = self.images[batch]
        far, log2_s = scaled_windows(images, c.crop_size, gen)
        x = torch.cat(
            [
                self.inputs(torch.cat([images, images]), gen),
                augment_batch(
                    far, gen, rotate=c.rotate, flip=c.flip, brightness=c.brightness
                ).contiguous(memory_format=self.memory_format),
            ]
        )
        pooled = self.net.features(x)
        a, b, f = pooled.chunk(3)
        z = self.net.head(torch.cat([a, b])).float()
        nt = nt_xent_loss(*z.chunk(2), temperature=c.temperature)
        guess = self.net.scale_head(torch.cat([a, f], dim=1)).float().squeeze(1)
        return nt + self.weight * F.mse_loss(guess, log2_s)


class ScalePretextLight(ScalePretext):
    weight = 0.3


TASKS = {"scale-pretext": ScalePretext, "scale-pretext-0.3": ScalePretextLight}


def with_scale_head(net, name):
    dim = net.head.in_features
    net.scale_head = nn.Sequential(nn.Linear(2 * dim, 64), nn.ReLU(), nn.Linear(64, 1))
    return net


if __name__ == "__main__":
    torch.set_num_threads(2)
    train_and_score(sys.argv[1:], OUT, TASKS.__getitem__, patch=with_scale_head)
