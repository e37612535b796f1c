# ruff: noqa
# Exploration script of issue 15 (stop 35), kept as the record of how moco.jsonl was made;
# not a maintained benchmark.
"""Issue 15, stop 35: momentum keys and a queue of negatives (MoCo v2, He et al. 2020).

The recipe's NT-Xent compares each window with the 94 other windows of its batch of 48
images. MoCo compares a window's embedding (the online net) with the key of its other view
(a slow copy of the net, an exponential moving average of its weights, momentum ``m``) and
with a queue of the keys of the last ``K`` windows, so each step sees many more negatives
and slowly moving targets. Symmetric (each view is once the query), temperature as the
recipe's; everything else is the recipe at quick length. Reference: the recipe's runs of
stop 33 (``finetune.py``'s ``base``).

- ``moco``: m = 0.99, K = 960 (the keys of the last 10 steps);
- ``moco-m0.9``: a faster key net, m = 0.9, same queue.

usage: moco.py VARIANT:SPLIT:SEED ...
"""

import copy, os, sys

import torch
import torch.nn.functional as F

from common import train_and_score
from oneshot_steel.tasks import SelfSupervisedTask

OUT = os.environ.get("MOCO_OUT", "/work/scratch/s35/moco")


class MoCo(SelfSupervisedTask):
    momentum, queue_size = 0.99, 960

    def loss(self, batch, gen):
        net = self.net
        if not hasattr(self, "key_net"):
            self.key_net = copy.deepcopy(net).requires_grad_(False)
            self.queue = torch.empty(0, self.cfg.embedding_dim, device=self.device)
        with torch.no_grad():  # the key net follows the weights of the last step
            for k, q in zip(self.key_net.parameters(), net.parameters()):
                k.mul_(self.momentum).add_(q.detach(), alpha=1 - self.momentum)
            for k, q in zip(self.key_net.buffers(), net.buffers()):
                k.copy_(q)
        images = self.images[batch]
        xa, xb = self.inputs(torch.cat([images, images]), gen).chunk(2)
        q = F.normalize(net(torch.cat([xa, xb]).contiguous()).float(), dim=1)
        with torch.no_grad():
            self.key_net.train(net.training)
            k = F.normalize(self.key_net(torch.cat([xb, xa]).contiguous()).float(), dim=1)
        positive = (q * k).sum(dim=1, keepdim=True)
        negatives = q @ torch.cat([k, self.queue]).T  # the other keys of the batch and the queue
        b = len(q)  # both views of every image: mask the positive and the other view's key
        rows = torch.arange(b, device=q.device)
        same = torch.zeros_like(negatives, dtype=torch.bool)
        same[rows, rows] = True
        same[rows, (rows + b // 2) % b] = True
        negatives = negatives.masked_fill(same, float("-inf"))
        logits = torch.cat([positive, negatives], dim=1) / self.cfg.temperature
        self.queue = torch.cat([k, self.queue])[: self.queue_size].detach()
        return F.cross_entropy(logits, torch.zeros(b, dtype=torch.long, device=q.device))


class MoCoFast(MoCo):
    momentum = 0.9


TASKS = {"moco": MoCo, "moco-m0.9": MoCoFast}

if __name__ == "__main__":
    torch.set_num_threads(2)
    train_and_score(sys.argv[1:], OUT, TASKS.__getitem__)
