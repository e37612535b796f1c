# ruff: noqa
# Exploration script of issue 15 (stop 36), kept as the record of how hard-negatives.jsonl
# was made; not a maintained benchmark.
"""Issue 15, stop 36: NT-Xent that weighs the hardest negatives more (Robinson et al., ICLR 2021).

The unseen classes of the paper's split are confused in one place: pits against scratches,
two textures of dark marks on a lighter plate. NT-Xent spends most of its gradient on the
negatives it already separates; Robinson et al.'s hard-negative sampling reweights each
anchor's negatives by exp(beta * cosine / tau), normalised to a mean weight of 1, so the
most similar other images dominate the denominator and the feature must learn the fine
differences between look-alike textures. (The debiased form, which discounts negatives that
may share the anchor's class, lost 6-12 points, `explore3.py`; this is its opposite and runs
without the debiasing; with beta = 0 the loss is NT-Xent to float precision, checked.)
Everything else the recipe at quick length:

- ``hcl0.5``: beta = 0.5;
- ``hcl1``: beta = 1.

usage: hard_negatives.py VARIANT:SPLIT:SEED ...
"""

import os, sys

import torch
import torch.nn.functional as F

from common import train_and_score
from oneshot_steel.tasks import SelfSupervisedTask

OUT = os.environ.get("HARD_NEGATIVES_OUT", "/work/scratch/s36/hard-negatives")


def hard_negative_nt_xent(view1, view2, temperature, beta):
    """-log(pos / (pos + (2B - 2) * weighted mean of the negatives)), the weights
    proportional to exp(beta * similarity / tau) within each anchor's negatives."""
    b = len(view1)
    z = F.normalize(torch.cat([view1, view2]).float(), dim=1)
    logits = z @ z.T / temperature
    partner = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
    pos = logits[torch.arange(2 * b), partner]
    negative = torch.ones_like(logits, dtype=torch.bool)
    negative.fill_diagonal_(False)
    negative[torch.arange(2 * b), partner] = False
    # log of the weighted mean of exp(neg): logsumexp((1 + beta) neg) - logsumexp(beta neg)
    log_mean = torch.logsumexp(((1 + beta) * logits).masked_fill(~negative, float("-inf")), 1)
    log_mean = log_mean - torch.logsumexp((beta * logits).masked_fill(~negative, float("-inf")), 1)
    log_denominator = torch.logaddexp(pos, log_mean + torch.log(torch.tensor(2.0 * b - 2)))
    return (log_denominator - pos).mean()


class HardNegatives(SelfSupervisedTask):
    beta = 1.0

    def loss(self, batch, gen):
        images = self.images[batch]
        z = self.net(self.inputs(torch.cat([images, images]), gen)).float()
        return hard_negative_nt_xent(*z.chunk(2), self.cfg.temperature, self.beta)


class HardNegativesHalf(HardNegatives):
    beta = 0.5


TASKS = {"hcl1": HardNegatives, "hcl0.5": HardNegativesHalf}

if __name__ == "__main__":
    torch.set_num_threads(2)
    train_and_score(sys.argv[1:], OUT, TASKS.__getitem__)
