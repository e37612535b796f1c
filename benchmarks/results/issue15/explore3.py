# ruff: noqa
# Exploration script of issue 15 (stop 28), kept as the record of how
# training-variants-3-reverse.jsonl was made; not a maintained benchmark.
"""Issue 15, stop 28: fewer invariances and other self-supervised losses, quick length.

usage: explore3.py VARIANT:SPLIT:SEED ...
"""

import os, sys, time
from dataclasses import replace

import torch
import torch.nn.functional as F

from common import DATA, RECIPE_QUICK, SPLITS, append, score
from oneshot_steel.data import load_neu
from oneshot_steel.losses import nt_xent_loss
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.tasks import SelfSupervisedTask
import oneshot_steel.train as T
from oneshot_steel.train import _fit, load_checkpoint

OUT = os.environ.get("EXPLORE3_OUT", "/tmp/s28/runs")  # stop 29: /tmp/s29/runs


def debiased_nt_xent(v1, v2, temperature, tau_plus):
    """Chuang et al. (2020): NT-Xent whose negatives are corrected for the expected share
    tau_plus of same-class images among them (1/3 with three equally common classes)."""
    b = v1.shape[0]
    z = F.normalize(torch.cat([v1, v2]).float(), dim=1)
    sim = torch.exp(z @ z.T / temperature)
    idx = torch.arange(2 * b, device=z.device)
    partner = torch.cat([idx[b:], idx[:b]])
    pos = sim[idx, partner]
    mask = torch.ones_like(sim, dtype=torch.bool)
    mask[idx, idx] = False
    mask[idx, partner] = False
    neg = (sim * mask).sum(1)
    n = 2 * b - 2
    ng = (neg - n * tau_plus * pos) / (1 - tau_plus)
    ng = torch.clamp(ng, min=n * torch.exp(torch.tensor(-1 / temperature)).item())
    return -torch.log(pos / (pos + ng)).mean()


def vicreg(v1, v2, lam=25.0, mu=25.0, nu=1.0):
    """Bardes et al. (2022): invariance + variance hinge + covariance decorrelation."""
    v1, v2 = v1.float(), v2.float()
    inv = F.mse_loss(v1, v2)
    std = lambda v: torch.sqrt(v.var(0) + 1e-4)
    var = F.relu(1 - std(v1)).mean() + F.relu(1 - std(v2)).mean()

    def cov(v):
        v = v - v.mean(0)
        c = (v.T @ v) / (len(v) - 1)
        return (c.pow(2).sum() - c.diagonal().pow(2).sum()) / v.shape[1]

    return lam * inv + mu * var + nu * (cov(v1) + cov(v2))


def decorrelation(v):
    """Mean squared off-diagonal correlation of the embedding's dimensions, times D (0 when
    the dimensions are uncorrelated): a penalty against dimensional collapse."""
    z = (v - v.mean(0)) / (v.std(0) + 1e-4)
    c = z.T @ z / (len(z) - 1)
    return (c.pow(2).sum() - c.diagonal().pow(2).sum()) / v.shape[1]


class DecorrelatedTask(SelfSupervisedTask):
    """NT-Xent plus DECOR_WEIGHT x the decorrelation penalty of both views (the head's
    64-d feature has an effective rank of about 4-5 after the recipe's training)."""

    kind = "selfsup"
    weight = 0.01

    def loss(self, batch, gen):
        images = self.images[batch]
        views = self.net(self.inputs(torch.cat([images, images]), gen)).float()
        v1, v2 = views.chunk(2)
        ntx = nt_xent_loss(v1, v2, temperature=self.cfg.temperature)
        return ntx + self.weight * (decorrelation(v1) + decorrelation(v2))


class Decorrelated05(DecorrelatedTask):
    weight = 0.05


class Decorrelated5(DecorrelatedTask):
    weight = 0.5


class DebiasedTask(SelfSupervisedTask):
    kind = "selfsup"

    def loss(self, batch, gen):
        images = self.images[batch]
        views = self.net(self.inputs(torch.cat([images, images]), gen)).float()
        return debiased_nt_xent(*views.chunk(2), self.cfg.temperature, 1 / 3)


class VICRegTask(SelfSupervisedTask):
    kind = "selfsup"

    def loss(self, batch, gen):
        images = self.images[batch]
        views = self.net(self.inputs(torch.cat([images, images]), gen)).float()
        return vicreg(*views.chunk(2))


class ContrastTask(SelfSupervisedTask):
    """Stop 29: each view's contrast scaled by U(1 - c, 1 + c) around its own mean, alone
    (stop 26's "photo" variant mixed a wider contrast range with blur, and lost badly)."""

    kind = "selfsup"
    contrast = 0.2

    def inputs(self, images, gen):
        x = super().inputs(images, gen)
        gain = (
            1
            - self.contrast
            + 2 * self.contrast * torch.rand(len(x), generator=gen, device=x.device)
        )
        m = x.mean((1, 2, 3), keepdim=True)
        x = (m + (x - m) * gain[:, None, None, None]).clamp(-1, 1)
        return x.contiguous(memory_format=self.memory_format)


class NNCLRTask(SelfSupervisedTask):
    """Stop 30: nearest-neighbour positives (Dwibedi et al. 2021, NNCLR, without its
    predictor). Each view's partner is the *nearest other training image* in a bank of the
    images' last embeddings, so the net learns invariance to the natural variation between
    similar images, not only to the augmentations (the diagnosis of stop 29: PS and Sc are
    several clusters each). ``mix`` weighs this loss against plain NT-Xent."""

    kind = "selfsup"
    mix = 1.0
    exclude_self = False

    def loss(self, batch, gen):
        images = self.images[batch]
        views = self.net(self.inputs(torch.cat([images, images]), gen)).float()
        v1, v2 = views.chunk(2)
        t = self.cfg.temperature
        ntx = nt_xent_loss(v1, v2, temperature=t)
        z1, z2 = F.normalize(v1, dim=1), F.normalize(v2, dim=1)
        if not hasattr(self, "bank"):
            self.bank = torch.zeros(len(self.images), v1.shape[1], device=v1.device)
            self.filled = torch.zeros(len(self.images), dtype=torch.bool, device=v1.device)
        total = ntx
        if int(self.filled.sum()) >= 2 * len(batch):
            target = torch.arange(len(batch), device=v1.device)
            nns = []
            for z in (z1, z2):
                sim = z.detach() @ self.bank.T
                sim[:, ~self.filled] = float("-inf")
                if self.exclude_self:
                    sim[target, batch] = float("-inf")
                nns.append(self.bank[sim.argmax(1)])
            nn_loss = (
                F.cross_entropy(nns[0] @ z2.T / t, target)
                + F.cross_entropy(nns[1] @ z1.T / t, target)
            ) / 2
            total = (1 - self.mix) * ntx + self.mix * nn_loss
        self.bank[batch] = F.normalize((z1 + z2).detach(), dim=1)
        self.filled[batch] = True
        return total


class NNCLRExcludeSelf(NNCLRTask):
    exclude_self = True


class NNCLRMix(NNCLRTask):
    exclude_self = True
    mix = 0.5


def with_instance_norm(net):
    """Standardise every input window on its own (mean 0, s.d. 1) before block 1, at training
    and at test time: texture, not grey level. No parameters, so the state_dict is unchanged."""
    from collections import OrderedDict

    net.features = torch.nn.Sequential(
        OrderedDict([("inorm", torch.nn.InstanceNorm2d(1)), *net.features.named_children()])
    )
    return net


def with_block5(net):
    """A fifth conv block (4w -> 4w, no pooling) after block 4: receptive field 31 -> 47 px."""
    from collections import OrderedDict

    from oneshot_steel.models import _conv_bn_relu

    w = net.width
    kids = list(net.features.named_children())
    at = [n for n, _ in kids].index("gap")
    kids.insert(at, ("block5", _conv_bn_relu(4 * w, 4 * w)))
    net.features = torch.nn.Sequential(OrderedDict(kids))
    return net


base = RECIPE_QUICK
VARIANTS = {
    "base": (base, SelfSupervisedTask),
    "instnorm": (base, SelfSupervisedTask),
    "block5": (base, SelfSupervisedTask),
    # NEU's images share one camera orientation: quarter turns may throw away a cue
    "norot": (replace(base, rotate=False), SelfSupervisedTask),
    "noturnflip": (replace(base, rotate=False, flip=False), SelfSupervisedTask),
    # photometric invariance hurt (stop 26: contrast + blur; instnorm above): is +-10 too?
    "nobright": (replace(base, brightness=0.0), SelfSupervisedTask),
    # stop 29: PS's brightness varies most of all classes: is a wider jitter than +-10 better?
    "bright20": (replace(base, brightness=20.0), SelfSupervisedTask),
    "bright40": (replace(base, brightness=40.0), SelfSupervisedTask),
    "contrast0.2": (base, ContrastTask),
    "emb128": (replace(base, embedding_dim=128), SelfSupervisedTask),
    # stop 30: nearest-neighbour positives (NNCLR)
    "nnclr": (base, NNCLRTask),
    "nnclr-x": (base, NNCLRExcludeSelf),
    "nnclr-mix": (base, NNCLRMix),
    "debiased": (base, DebiasedTask),
    "vicreg": (base, VICRegTask),
    "decor0.01": (base, DecorrelatedTask),
    "decor0.05": (base, Decorrelated05),
    "decor0.5": (base, Decorrelated5),
}

PATCHES = {"instnorm": with_instance_norm, "block5": with_block5}
PARAMETRIC = {"block5"}  # patches that add weights: load into a patched net
imgs = load_neu(DATA, size=200)
orig_build = T.build_from_spec
for token in sys.argv[1:]:
    name, split_name, seed = token.split(":")
    cfg, task = VARIANTS[name]
    patch = PATCHES.get(name, lambda net: net)
    T.build_from_spec = lambda spec, p=patch: p(orig_build(spec))
    cfg = replace(cfg, seed=int(seed))
    sp = one_shot_split(imgs, *SPLITS[split_name], seed=cfg.seed)
    run = f"{OUT}/{name}/{split_name}/seed{seed}"
    t0 = time.perf_counter()
    _fit(task, cfg, sp.train, sp.val, run, None, True, False)
    row = {"variant": name, "split": split_name, "seed": cfg.seed}
    row["train_s"] = round(time.perf_counter() - t0, 1)
    for weights, suffix in (("best", ""), ("last", "_last")):
        if name in PARAMETRIC:
            from oneshot_steel.models import CompactEmbeddingNet

            model = patch(CompactEmbeddingNet(cfg.embedding_dim, cfg.width))
            net = load_checkpoint(run, weights=weights, model=model)[0]
        else:
            net = patch(load_checkpoint(run, weights=weights)[0])
        row |= score(net, sp, suffix)
    row["load"] = open("/proc/loadavg").read().split()[0]
    append(f"{OUT}/results.jsonl", row)
