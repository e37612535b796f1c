# ruff: noqa
# Exploration script of issue 15 (stop 35), kept as the record of how multiview.jsonl was
# made; not a maintained benchmark.
"""Issue 15, stop 35: four windows of every image instead of two.

The recipe's NT-Xent sees two 64 px windows of each image per step, so each step tells the
net one thing per image: "these two windows belong together". A texture is a statistic of
the whole image; seeing four windows of it at once asks the net to agree on what all four
share (the multi-positive form of NT-Xent: each window's positives are the other three
windows of its image, SupCon's loss with the image as the label). Everything else is the
recipe at quick length; the recipe's runs of stop 33 (``finetune.py``'s ``base``) are the
reference.

- ``views4``: 4 windows of each of the 48 images of a step (twice the recipe's compute);
- ``views4-b24``: 4 windows of 24 images (the recipe's 96 windows per step).

usage: multiview.py VARIANT:SPLIT:SEED ...
"""

import os, sys

import torch
import torch.nn.functional as F

from common import train_and_score
from oneshot_steel.tasks import SelfSupervisedTask

OUT = os.environ.get("MULTIVIEW_OUT", "/work/scratch/s35/multiview")


def multi_positive_nt_xent(z, image, temperature):
    """Mean over anchors of -mean_p log softmax(z_a . z_p / tau) over the other windows."""
    z = F.normalize(z.float(), dim=1)
    logits = z @ z.T / temperature
    eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(eye, float("-inf"))
    log_p = logits.log_softmax(dim=1)
    positive = (image[:, None] == image[None, :]) & ~eye
    return -(log_p.masked_fill(~positive, 0).sum(1) / positive.sum(1)).mean()


class FourViews(SelfSupervisedTask):
    images_per_step = None  # None: the recipe's ssl_batch

    def batches(self, epoch):
        steps = super().batches(epoch)
        return [b[: self.images_per_step] for b in steps] if self.images_per_step else steps

    def loss(self, batch, gen):
        images = self.images[batch]
        x = self.inputs(torch.cat([images] * 4), gen)
        image = torch.arange(len(batch), device=x.device).repeat(4)
        return multi_positive_nt_xent(self.net(x), image, self.cfg.temperature)


class FourViewsHalfBatch(FourViews):
    images_per_step = 24


TASKS = {"views4": FourViews, "views4-b24": FourViewsHalfBatch}

if __name__ == "__main__":
    torch.set_num_threads(2)
    train_and_score(sys.argv[1:], OUT, TASKS.__getitem__)
