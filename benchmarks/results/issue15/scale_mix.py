# ruff: noqa
# Exploration script of issue 15 (stop 35), kept as the record of how scale-mix.jsonl was
# made; not a maintained benchmark.
"""Issue 15, stop 35: training windows drawn from the image at two scales.

The recipe learns from 64 px windows of 200 px images only, yet the coarse view of stop 35
asks the net to describe the image shrunk to 100 px as well. Here each training image of a
step is, with probability 1/2, first shrunk to 100 px (2 x 2 averages), and both of its
windows are cut from that version: the two views of a pair always share a scale (scale
jitter between the views lost 11 points, `augexp.py`), but the net now sees textures at
both scales. Scored with one view (``1shot``), as the recipe is, and with the coarse view
joined (``1shot_joined``: each scale SimpleShot-centred on the training images at that
scale, no whitening, as these quick nets have none). ``base`` re-scores the recipe's
stop-33 runs the same way.

usage: scale_mix.py VARIANT:SPLIT:SEED ...   (VARIANT: scales50, or base to re-score)
"""

import os, sys

import torch
import torch.nn.functional as F

from common import DATA, SPLITS, append, score, train_and_score
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import episodic_accuracy, simpleshot
from oneshot_steel.losses import nt_xent_loss
from oneshot_steel.metric import join_views
from oneshot_steel.tasks import SelfSupervisedTask

OUT = os.environ.get("SCALE_MIX_OUT", "/work/scratch/s35/scale-mix")
BASE = "/work/scratch/s33/ft/base"


def half(images):
    return F.avg_pool2d(images.float(), 2).round().to(torch.uint8)


class ScaleMix(SelfSupervisedTask):
    def loss(self, batch, gen):
        images = self.images[batch]
        small = torch.rand(len(batch), generator=gen, device=images.device) < 0.5
        views = []
        for group in (images[~small], half(images[small])):
            if len(group):
                views.append(self.inputs(torch.cat([group, group]), gen).chunk(2))
        v1 = torch.cat([a for a, _ in views])
        v2 = torch.cat([b for _, b in views])
        z = self.net(torch.cat([v1, v2]).contiguous(memory_format=self.memory_format)).float()
        return nt_xent_loss(*z.chunk(2), temperature=self.cfg.temperature)


def joined(net, split, episodes=2000):
    f = [
        simpleshot(embed(net, t(split.test.images)), embed(net, t(split.train.images)))
        for t in (lambda x: x, half)
    ]
    feats = join_views([F.normalize(x, dim=1) for x in f])
    row = {}
    for k in (1, 5):
        r = episodic_accuracy(feats, split.test, 3, k, 15, episodes, 0)
        row[f"{k}shot_joined"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
    return row


if __name__ == "__main__":
    torch.set_num_threads(2)
    tokens = sys.argv[1:]
    from oneshot_steel.data import load_neu
    from oneshot_steel.data.splits import one_shot_split
    from oneshot_steel.train import load_checkpoint

    imgs = load_neu(DATA, size=200)
    for token in tokens:
        name, split_name, seed = token.split(":")
        sp = one_shot_split(imgs, *SPLITS[split_name], seed=int(seed))
        if name != "base":
            train_and_score([token], OUT, {"scales50": ScaleMix}.__getitem__)
            run = f"{OUT}/{name}/{split_name}/seed{seed}"
        else:
            run = f"{BASE}/{split_name}/seed{seed}"
        net = load_checkpoint(run, weights="best")[0].eval()
        row = {"variant": name, "split": split_name, "seed": int(seed)}
        append(f"{OUT}/joined.jsonl", row | score(net, sp) | joined(net, sp))
