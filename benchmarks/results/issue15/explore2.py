# ruff: noqa
# Exploration script of issue 15 (stop 26), kept as the record of how training-variants-reverse.jsonl
# was made; not a maintained benchmark.
"""Issue 15, stop 26: training-side variants of the recipe, quick length, scored like explore.py.
usage: explore2.py VARIANT:SPLIT:SEED ..."""

import json, sys, time
from dataclasses import replace
import torch, torch.nn as nn, torch.nn.functional as F

sys.path.insert(0, "/work/main/src")
import oneshot_steel.train as T
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.train import TrainConfig, _fit, load_checkpoint
from oneshot_steel.tasks import SelfSupervisedTask
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot, episodic_accuracy
from oneshot_steel.losses import nt_xent_loss
from oneshot_steel.augment import augment_batch, random_crop
from oneshot_steel.models import CompactEmbeddingNet

torch.set_num_threads(2)
OUT = "/tmp/s27/runs"  # stop 26 wrote to /tmp/s26/runs
DATA = "/work/shared/data/neu-cls"
SPLITS = {
    "main": (["RS", "Pa", "In"], ["Cr", "PS", "Sc"]),
    "reverse": (["Cr", "PS", "Sc"], ["RS", "Pa", "In"]),
}
base = TrainConfig(
    model="compact",
    width=32,
    embedding_dim=64,
    crop_size=64,
    lr=1e-3,
    epochs=4,
    episodes_per_epoch=50,
    val_episodes=100,
    n_way=3,
    k_shot=5,
    n_query=10,
    ssl_batch=48,
    temperature=0.2,
)


def mlp_head(net):
    """SimCLR's projector: the loss reads an MLP on top; the representation is the GAP feature."""
    d = net.head.in_features
    net.head = nn.Identity()
    net.proj = nn.Sequential(
        nn.Linear(d, 2 * d), nn.BatchNorm1d(2 * d), nn.ReLU(inplace=True), nn.Linear(2 * d, 64)
    )
    return net


class MLPTask(SelfSupervisedTask):
    kind = "selfsup"

    def loss(self, batch, gen):
        images = self.images[batch]
        views = self.net.proj(self.net(self.inputs(torch.cat([images, images]), gen))).float()
        return nt_xent_loss(*views.chunk(2), temperature=self.cfg.temperature)


class MultiCropTask(SelfSupervisedTask):
    """Two 64 px global views and N_LOCAL 32 px local views of each image; every local view must
    find each global view of its image (SwAV's multi-crop, with NT-Xent)."""

    kind = "selfsup"
    n_local = 4
    local = 32

    def views(self, images, size, gen):
        c = self.cfg
        x = augment_batch(
            random_crop(images, size, gen),
            gen,
            rotate=c.rotate,
            flip=c.flip,
            brightness=c.brightness,
        )
        return self.net(x.contiguous(memory_format=self.memory_format)).float()

    def loss(self, batch, gen):
        images = self.images[batch]
        g1, g2 = self.views(torch.cat([images, images]), self.cfg.crop_size, gen).chunk(2)
        locs = self.views(images.repeat(self.n_local, 1, 1, 1), self.local, gen).chunk(self.n_local)
        t = self.cfg.temperature
        loc = sum(nt_xent_loss(g1, l, t) + nt_xent_loss(g2, l, t) for l in locs) / (2 * len(locs))
        return 0.5 * nt_xent_loss(g1, g2, t) + 0.5 * loc


class MultiCrop2(MultiCropTask):
    n_local = 2
    local = 48


EMA = {}


class EMATask(SelfSupervisedTask):
    """The recipe, plus an exponential moving average of the weights (decay EMA_DECAY per
    step; BatchNorm statistics copied), scored at the end instead of the best epoch."""

    kind = "selfsup"

    def loss(self, batch, gen):
        import copy

        if "net" not in EMA or EMA.get("owner") is not self:
            EMA.update(net=copy.deepcopy(self.net), owner=self)
        else:
            with torch.no_grad():
                for pe, p in zip(EMA["net"].parameters(), self.net.parameters()):
                    pe.lerp_(p.detach(), 1 - EMA_DECAY)
                for be, b in zip(EMA["net"].buffers(), self.net.buffers()):
                    be.copy_(b)
        return super().loss(batch, gen)


EMA_DECAY = 0.99

VARIANTS = {
    "base": (base, SelfSupervisedTask, None),
    "mlp": (base, MLPTask, mlp_head),
    "multicrop": (base, MultiCropTask, None),
    "multicrop48": (base, MultiCrop2, None),
    "batch96": (replace(base, ssl_batch=96), SelfSupervisedTask, None),
    "w48": (replace(base, width=48), SelfSupervisedTask, None),
    "w64": (replace(base, width=64), SelfSupervisedTask, None),
    "lr3e-3": (replace(base, lr=3e-3), SelfSupervisedTask, None),
    "lr3e-4": (replace(base, lr=3e-4), SelfSupervisedTask, None),
    "tau0.5": (replace(base, temperature=0.5), SelfSupervisedTask, None),
    "ema0.99": (base, EMATask, None),
    # all 900 training-class images (the 180 validation ones too), no validation: last epoch
    "allimgs": (base, SelfSupervisedTask, None),
}

imgs = load_neu(DATA, size=200)
orig_build = T.build_from_spec
for token in sys.argv[1:]:
    name, split_name, seed = token.split(":")
    cfg, task, patch = VARIANTS[name]
    cfg = replace(cfg, seed=int(seed))
    T.build_from_spec = (lambda spec, p=patch: p(orig_build(spec))) if patch else orig_build
    tr_c, te_c = SPLITS[split_name]
    sp = one_shot_split(imgs, tr_c, te_c, seed=cfg.seed)
    run = f"{OUT}/{name}/{split_name}/seed{seed}"
    t0 = time.perf_counter()
    if name == "allimgs":
        _fit(task, cfg, imgs.subset(tr_c), None, run, None, True, False)
    else:
        _fit(task, cfg, sp.train, sp.val, run, None, True, False)
    secs = time.perf_counter() - t0
    model = patch(CompactEmbeddingNet(cfg.embedding_dim, cfg.width)) if patch else None
    net = (
        load_checkpoint(run, weights="last")[0]
        if name == "allimgs"
        else load_checkpoint(run, weights="best", model=model)[0]
        if patch
        else load_checkpoint(run, weights="best")[0]
    )
    row = {"variant": name, "split": split_name, "seed": cfg.seed, "train_s": round(secs, 1)}
    nets = {"": net}
    if task is EMATask:  # the EMA weights, and the last epoch's raw weights beside them
        nets = {"": EMA["net"].eval(), "_last": load_checkpoint(run, weights="last")[0]}
    for suffix, n in nets.items():
        f = simpleshot(embed(n, sp.test), embed(n, sp.train))
        for k in (1, 5):
            r = episodic_accuracy(f, sp.test, 3, k, 15, 2000, 0)
            row[f"{k}shot{suffix}"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
    row["load"] = open("/proc/loadavg").read().split()[0]
    print(json.dumps(row), flush=True)
    with open(f"{OUT}/results.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\n")
