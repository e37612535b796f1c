# ruff: noqa
# Exploration script of issue 15, kept as the record of how the rows next to it were made
# (paths of the machine it ran on; not a maintained benchmark: see ../../bench_best.py).
"""Stronger augmentation for the recipe `best` (quick length): scale jitter of the training
windows and photometric jitter, against the base recipe, on the reverse split (selects) and
the paper's split (reported). 2,000 3-way episodes, episode seed 0, SimpleShot head features."""

import json, sys, time
from dataclasses import replace
import torch, torch.nn.functional as F

sys.path.insert(0, sys.argv[1])  # the src folder of the tree under test
from oneshot_steel.config import TrainConfig
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.train import _fit, load_checkpoint
from oneshot_steel.tasks import SelfSupervisedTask
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot, episodic_accuracy
from oneshot_steel.augment import augment_batch, random_crop

torch.set_num_threads(int(sys.argv[3]))
OUT = sys.argv[2]
SPLITS = {
    "main": (["RS", "Pa", "In"], ["Cr", "PS", "Sc"]),
    "reverse": (["Cr", "PS", "Sc"], ["RS", "Pa", "In"]),
}
import os

base = TrainConfig.recipe("best", os.environ.get("PRESET", "quick"))


def scaled_windows(images, size, gen, lo, hi):
    """Per image, a random square window of side U(lo, hi) * size pixels, resized to size."""
    from common import windows_at  # the same arithmetic, shared with scale_pretext.py since stop 36

    u = torch.rand((len(images), 3), generator=gen, device=images.device)
    side = (lo + (hi - lo) * u[:, 0]) * size / images.shape[2]  # window side as a fraction
    return windows_at(images, size, side, u[:, 1:])


def photometric(x, gen, contrast, blur_p):
    """x in [-1, 1]: contrast scaled by U(1-c, 1+c) around each view's mean; 3x3 blur with p."""
    b = x.shape[0]
    u = torch.rand((b, 2), generator=gen, device=x.device)
    m = x.mean((1, 2, 3), keepdim=True)
    x = m + (x - m) * (1 - contrast + 2 * contrast * u[:, 0])[:, None, None, None]
    if blur_p > 0:
        blurred = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        x = torch.where((u[:, 1] < blur_p)[:, None, None, None], blurred, x)
    return x.clamp(-1, 1)


class Augmented(SelfSupervisedTask):
    kind = "selfsup"
    scale = (1.0, 1.0)
    contrast = 0.0
    blur_p = 0.0

    def inputs(self, images, gen):
        c = self.cfg
        if self.scale != (1.0, 1.0):
            images = scaled_windows(images, c.crop_size, gen, *self.scale)
        else:
            images = random_crop(images, c.crop_size, gen)
        x = augment_batch(images, gen, rotate=c.rotate, flip=c.flip, brightness=c.brightness)
        if self.contrast or self.blur_p:
            x = photometric(x, gen, self.contrast, self.blur_p)
        return x.contiguous(memory_format=self.memory_format)


def variant(name, **kw):
    return type(name, (Augmented,), kw)


VARIANTS = {
    "base": variant("Base"),
    "scale": variant("Scale", scale=(0.6, 1.6)),
    "photo": variant("Photo", contrast=0.4, blur_p=0.3),
    "scale+photo": variant("ScalePhoto", scale=(0.6, 1.6), contrast=0.4, blur_p=0.3),
}

data = load_neu("/work/shared/data/neu-cls", size=200)
for token in sys.argv[4:]:
    name, split_name, seed = token.split(":")
    seed = int(seed)
    cfg = replace(base, seed=seed, simpleshot=False)
    sp = one_shot_split(data, *SPLITS[split_name], seed=seed)
    run = f"{OUT}/{name}/{split_name}/seed{seed}"
    t0 = time.perf_counter()
    _fit(VARIANTS[name], cfg, sp.train, sp.val, run, None, True, False)
    secs = time.perf_counter() - t0
    net = load_checkpoint(run, weights="best")[0]
    f = simpleshot(embed(net, sp.test), embed(net, sp.train))
    row = {"variant": name, "split": split_name, "seed": seed, "train_s": round(secs, 1)}
    for k in (1, 5):
        r = episodic_accuracy(f, sp.test, 3, k, 15, 2000, 0)
        row[f"{k}shot"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
    row["load"] = open("/proc/loadavg").read().split()[0]
    print(json.dumps(row), flush=True)
