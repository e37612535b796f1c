# ruff: noqa
# Exploration script of issue 15 (stop 32), kept as the record of how procedural.jsonl was
# made; not a maintained benchmark.
"""Issue 15, stop 32: self-supervised training on NEU's training classes PLUS generic
procedural textures (no labels, no test-class images, nothing pretrained).

The recipe's feature has an effective rank of about 4: NT-Xent on three classes of steel
learns a few statistics (grey level, contrast, a couple of texture scales). Procedural
images (Baradad et al., NeurIPS 2021, "Learning to see by looking at noise") are a source
of texture variety that holds no NEU image: filtered noise with a random power-law spectrum,
random orientation and elongation, random band-pass, and point-wise maps of it (thresholds,
ridges), two such layers mixed, random grey level and contrast. The generator was written
before any result and is the same for both splits; recipes are selected on the reverse split.

usage: procedural.py VARIANT:SPLIT:SEED ...   (VARIANT: base | proc720 | proc2160)
"""

import math, os, sys, time
from dataclasses import replace

import torch

from common import DATA, RECIPE_QUICK, SPLITS, append, score
from oneshot_steel.data import load_neu
from oneshot_steel.data.imageset import ImageSet
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.tasks import SelfSupervisedTask
import oneshot_steel.train as T
from oneshot_steel.train import _fit, load_checkpoint

# The trainer checks that validation holds the training classes; the extra "proc" class has
# no validation images (validation stays on NEU's training classes, as for the base recipe).
_check_sets = T._check_sets
T._check_sets = lambda train, val: _check_sets(
    train.subset([c for c in train.classes if c != "proc"]), val
)

OUT = os.environ.get("PROCEDURAL_OUT", "/tmp/s32/proc")


def _layer(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """n float images [n, size, size], mean 0 and s.d. 1 each: Gaussian noise shaped in
    frequency by a random spectrum, then a random point-wise map."""
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, 1, 1, generator=gen)
    fy = torch.fft.fftfreq(size)[None, :, None]
    fx = torch.fft.rfftfreq(size)[None, None, :]
    theta = u(0, math.pi)
    elong = torch.exp(u(0, math.log(8.0)))  # 1 (isotropic) .. 8 (streaks)
    a = fx * torch.cos(theta) + fy * torch.sin(theta)
    b = -fx * torch.sin(theta) + fy * torch.cos(theta)
    r = torch.sqrt((a * elong) ** 2 + b**2) + 1.0 / size
    beta = u(0.5, 3.5)  # power spectrum ~ 1 / f^beta: from fine grain to smooth blobs
    amp = r ** (-beta / 2)
    band = torch.rand(n, 1, 1, generator=gen) < 0.35  # a band-pass instead, for some
    f0, bw = torch.exp(u(math.log(0.02), math.log(0.35))), u(0.2, 0.8)
    amp = torch.where(band, torch.exp(-((torch.log(r / f0)) ** 2) / (2 * bw**2)), amp)
    amp[:, 0, 0] = 0
    noise = torch.randn(n, size, size, generator=gen)
    x = torch.fft.irfft2(torch.fft.rfft2(noise) * amp, s=(size, size))
    x = (x - x.mean((1, 2), keepdim=True)) / (x.std((1, 2), keepdim=True) + 1e-8)
    kind = torch.randint(0, 4, (n, 1, 1), generator=gen)
    t, k = u(-1.0, 1.0), torch.exp(u(math.log(2), math.log(20)))
    thresholded = torch.sigmoid(k * (x - t))  # blobs, spots
    ridged = 1 - torch.tanh(x.abs() * u(1, 4))  # thin networks where the field crosses 0
    signed = torch.sign(u(-1, 1))
    out = torch.where(kind == 1, thresholded, x)
    out = torch.where(kind == 2, ridged, out)
    out = torch.where(kind == 3, x.abs(), out) * signed
    return (out - out.mean((1, 2), keepdim=True)) / (out.std((1, 2), keepdim=True) + 1e-8)


def procedural_images(n: int, size: int = 200, seed: int = 0, chunk: int = 120) -> torch.Tensor:
    """n uint8 images [n, 1, size, size]: two random layers mixed, random level and contrast."""
    gen = torch.Generator().manual_seed(10_000 + seed)
    out = []
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        w = torch.rand(m, 1, 1, generator=gen)
        x = _layer(m, size, gen) + w * _layer(m, size, gen)
        x = x / (x.std((1, 2), keepdim=True) + 1e-8)
        level = 50 + 150 * torch.rand(m, 1, 1, generator=gen)
        contrast = 8 + 42 * torch.rand(m, 1, 1, generator=gen)
        out.append((level + contrast * x).round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)[:, None]


def with_procedural(train: ImageSet, n: int, seed: int) -> ImageSet:
    """The training ImageSet plus n procedural images under one extra class ("proc"); the
    self-supervised task ignores labels."""
    size = train.images.shape[-1]
    extra = procedural_images(n, size, seed)
    return ImageSet(
        images=torch.cat([train.images, extra]),
        labels=torch.cat([train.labels, torch.full((n,), len(train.classes))]),
        classes=[*train.classes, "proc"],
        paths=[*train.paths, *[f"procedural/{i}" for i in range(n)]],
        source=train.source + " + procedural",
    )


VARIANTS = {"base": 0, "proc720": 720, "proc2160": 2160}

if __name__ == "__main__":
    torch.set_num_threads(2)
    if sys.argv[1:2] == ["--preview"]:  # a grid of generated images, to look at
        import matplotlib.pyplot as plt

        imgs = procedural_images(24, 200, 0)
        fig, axes = plt.subplots(4, 6, figsize=(12, 8))
        for ax, im in zip(axes.flat, imgs):
            ax.imshow(im[0], cmap="gray", vmin=0, vmax=255)
            ax.axis("off")
        fig.savefig(sys.argv[2], dpi=60)
        raise SystemExit
    imgs = load_neu(DATA, size=200)
    for token in sys.argv[1:]:
        name, split_name, seed = token.split(":")
        cfg = replace(RECIPE_QUICK, seed=int(seed))
        sp = one_shot_split(imgs, *SPLITS[split_name], seed=cfg.seed)
        train = with_procedural(sp.train, VARIANTS[name], cfg.seed) if VARIANTS[name] else sp.train
        run = f"{OUT}/{name}/{split_name}/seed{seed}"
        t0 = time.perf_counter()
        _fit(SelfSupervisedTask, cfg, train, sp.val, run, None, True, False)
        row = {"variant": name, "split": split_name, "seed": cfg.seed, "n_train": len(train.labels)}
        row["train_s"] = round(time.perf_counter() - t0, 1)
        for weights, suffix in (("best", ""), ("last", "_last")):
            net = load_checkpoint(run, weights=weights)[0]
            row |= score(net, sp, suffix)  # centred on the REAL training images only
        row["load"] = open("/proc/loadavg").read().split()[0]
        append(f"{OUT}/results.jsonl", row)
