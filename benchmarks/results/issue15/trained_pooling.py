# ruff: noqa
# Exploration script of issue 15 (stop 32), kept as the record of how trained-pooling.jsonl
# was made; not a maintained benchmark.
"""Issue 15, stop 32: the global pooling of the compact net, changed at TRAINING time.

The recipe's errors on the paper's split are nearly all PS <-> Sc (chapter 8: 98 % of them
in quick mode). A scratch is a few thin lines on a plain background: global AVERAGE pooling
over a 200 px image dilutes a sparse cue. Earlier sessions swapped GeM in at test time only (a net
trained with average pooling), which lost on the selection split. Here the net is trained
with the pooling it is tested with:

- ``gem3``: generalised mean, p = 3 (Radenovic et al. 2018), fixed;
- ``gemlearn``: the same with p learned (starts at 3);
- ``max``: global max pooling;
- ``cov``: first- plus second-order pooling (added in stop 33): a 1x1 conv reduces the 128
  channels to 32, their covariance over the positions (528 upper-triangle entries,
  signed square root, unit length) is concatenated with the average-pooled 128 channels and
  projected back to 128 by a linear layer, so the net's head is unchanged (bilinear / B-CNN
  pooling, Lin et al. 2015, in the reduced form texture work uses).

usage: trained_pooling.py VARIANT:SPLIT:SEED ...
       trained_pooling.py --confusion VARIANT:SPLIT:SEED ...  (nets already trained: where
       the 1-shot errors go, 2,000 episodes, episode seed 0)
"""

import os, sys, time
from dataclasses import replace

import torch
import torch.nn.functional as F

from common import DATA, RECIPE_QUICK, SPLITS, append, best_and_last, score
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import episodic_accuracy, simpleshot
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.models import CompactEmbeddingNet
from oneshot_steel.tasks import SelfSupervisedTask
import oneshot_steel.train as T
from oneshot_steel.train import _fit, load_checkpoint

OUT = os.environ.get("POOLING_OUT", "/tmp/s32/pool")


class GeM(torch.nn.Module):
    def __init__(self, p: float = 3.0, learn: bool = False):
        super().__init__()
        p = torch.tensor(float(p))
        if learn:
            self.p = torch.nn.Parameter(p)
        else:
            self.register_buffer("p", p)

    def forward(self, x):
        p = self.p.clamp(min=1.0)
        return F.adaptive_avg_pool2d(x.float().clamp(min=1e-6).pow(p), 1).pow(1.0 / p).to(x.dtype)


class CovPool(torch.nn.Module):
    def __init__(self, channels: int = 128, reduced: int = 32):
        super().__init__()
        self.reduce = torch.nn.Conv2d(channels, reduced, 1, bias=False)
        self.bn = torch.nn.BatchNorm2d(reduced)
        idx = torch.triu_indices(reduced, reduced)
        self.register_buffer("rows", idx[0], persistent=False)
        self.register_buffer("cols", idx[1], persistent=False)
        self.proj = torch.nn.Linear(channels + idx.shape[1], channels)

    def forward(self, x):
        mean = x.float().mean(dim=(2, 3))
        z = self.bn(self.reduce(x)).float().flatten(2)  # [B, r, N]
        z = z - z.mean(dim=2, keepdim=True)
        cov = z @ z.transpose(1, 2) / z.shape[2]  # [B, r, r]
        tri = cov[:, self.rows, self.cols]
        tri = F.normalize(tri.sign() * tri.abs().add(1e-8).sqrt(), dim=1)
        out = self.proj(torch.cat([mean, tri], dim=1))
        return out[:, :, None, None].to(x.dtype)


PATCHES = {
    "base": None,
    "gem3": lambda: GeM(3.0),
    "gemlearn": lambda: GeM(3.0, learn=True),
    "max": lambda: torch.nn.AdaptiveMaxPool2d(1),
    "cov": lambda: CovPool(),
}


def patched(net, name):
    if PATCHES[name] is not None:
        net.features.gap = PATCHES[name]()
    return net


def confusion(tokens):
    imgs = load_neu(DATA, size=200)
    for token in tokens:
        name, split_name, seed = token.split(":")
        cfg = replace(RECIPE_QUICK, seed=int(seed))
        sp = one_shot_split(imgs, *SPLITS[split_name], seed=cfg.seed)
        model = patched(CompactEmbeddingNet(cfg.embedding_dim, cfg.width), name)
        net = load_checkpoint(f"{OUT}/{name}/{split_name}/seed{seed}", model=model)[0].eval()
        f = simpleshot(embed(net, sp.test), embed(net, sp.train))
        r = episodic_accuracy(f, sp.test, 3, 1, 15, 2000, 0)
        cm = torch.tensor(r.confusion)
        row = {"variant": name, "split": split_name, "seed": cfg.seed, "classes": sp.test.classes}
        row |= {"1shot": round(100 * r.mean, 2), "confusion": r.confusion}
        row["errors"] = int(cm.sum() - cm.trace())
        append(f"{OUT}/confusion.jsonl", row)


if __name__ == "__main__":
    torch.set_num_threads(2)
    if sys.argv[1] == "--confusion":
        confusion(sys.argv[2:])
        sys.exit()
    imgs = load_neu(DATA, size=200)
    orig_build = T.build_from_spec
    for token in sys.argv[1:]:
        name, split_name, seed = token.split(":")
        T.build_from_spec = lambda spec, n=name: patched(orig_build(spec), n)
        cfg = replace(RECIPE_QUICK, seed=int(seed))
        sp = one_shot_split(imgs, *SPLITS[split_name], seed=cfg.seed)
        run = f"{OUT}/{name}/{split_name}/seed{seed}"
        t0 = time.perf_counter()
        _fit(SelfSupervisedTask, cfg, sp.train, sp.val, run, None, True, False)
        row = {"variant": name, "split": split_name, "seed": cfg.seed}
        row["train_s"] = round(time.perf_counter() - t0, 1)
        build = lambda: patched(CompactEmbeddingNet(cfg.embedding_dim, cfg.width), name)
        for suffix, net in best_and_last(run, build):
            row |= score(net, sp, suffix)
            if name == "gemlearn":
                row[f"p{suffix}"] = round(float(net.features.gap.p.detach()), 3)
        row["load"] = open("/proc/loadavg").read().split()[0]
        append(f"{OUT}/results.jsonl", row)
