# ruff: noqa
# Exploration script of issue 15 (stop 34), kept as the record of how imix.jsonl was made;
# not a maintained benchmark.
"""Issue 15, stop 34: i-Mix (Lee et al., ICLR 2021), a mixup for contrastive learning.

NT-Xent on 900 training images may learn to tell those images apart by accidents of each
image. i-Mix regularises it: the first view of image i is blended with the first view of a
random partner j (x = lam * a_i + (1 - lam) * a_j, lam ~ U(0, 1) per image), and its
embedding must find the second views of both, with target weights lam and 1 - lam, over the
second views of the batch (the N-pair form of the paper). Everything else is the recipe at
quick length; the recipe's runs of stop 33 (``finetune.py``'s ``base``) are the reference.

- ``imix``: the i-Mix loss alone;
- ``imix+nt``: the recipe's NT-Xent plus the i-Mix loss (two forward passes per step).

usage: imix.py VARIANT:SPLIT:SEED ...
"""

import os, sys

import torch
import torch.nn.functional as F

from common import train_and_score
from oneshot_steel.losses import nt_xent_loss
from oneshot_steel.tasks import SelfSupervisedTask

OUT = os.environ.get("IMIX_OUT", "/work/scratch/s34/imix")


def imix_loss(net, xa, xb, gen, temperature):
    b = xa.shape[0]
    lam = torch.rand(b, generator=gen, device=xa.device)
    perm = torch.randperm(b, generator=gen, device=xa.device)
    w = lam.view(-1, 1, 1, 1).to(xa.dtype)
    za = F.normalize(net((w * xa + (1 - w) * xa[perm]).contiguous()).float(), dim=1)
    zb = F.normalize(net(xb).float(), dim=1)
    target = torch.zeros(b, b, device=xa.device)
    target[torch.arange(b), torch.arange(b)] += lam
    target[torch.arange(b), perm] += 1 - lam
    return F.cross_entropy(za @ zb.T / temperature, target)


class IMix(SelfSupervisedTask):
    with_nt_xent = False

    def loss(self, batch, gen):
        images = self.images[batch]
        xa, xb = self.inputs(torch.cat([images, images]), gen).chunk(2)
        loss = imix_loss(self.net, xa, xb, gen, self.cfg.temperature)
        if self.with_nt_xent:
            xc, xd = self.inputs(torch.cat([images, images]), gen).chunk(2)
            views = self.net(torch.cat([xc, xd]).contiguous()).float()
            loss = loss + nt_xent_loss(*views.chunk(2), temperature=self.cfg.temperature)
        return loss


class IMixNT(IMix):
    with_nt_xent = True


TASKS = {"imix": IMix, "imix+nt": IMixNT}

if __name__ == "__main__":
    torch.set_num_threads(2)
    train_and_score(sys.argv[1:], OUT, TASKS.__getitem__)
