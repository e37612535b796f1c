# ruff: noqa
# Exploration script of issue 15 (stop 34), kept as the record of how recentre.jsonl was
# made; not a maintained benchmark.
"""Issue 15 part 3, stop 34: recentring on the new line, against shifted cameras.

Under halved contrast, a gamma curve or half resolution the recipe's margin over LBP +
SimpleShot shrinks to nothing (chapter 8, RESULTS.md). Both subtract the mean feature of
NEU's *unshifted* training images; on another camera the "typical steel image" is another
one. Two ways to recentre on the new line, for the net and for LBP alike, after the
features they already return (each re-centred, then unit length again):

- ``support``: on the mean of each episode's own support images (the enrolled images; an
  inductive rule, nothing else of the new line is seen);
- ``line``: on the mean of all the new line's unlabelled test images (the 900 shifted test
  images; the semi-supervised protocol, its own rows).

The recipe ``best`` as the CLI trains it (quick preset, seeds 0-2, both splits, runs in
``/work/scratch/s34/recipe``), 2,000 3-way episodes (episode seed 0) on all 900 test
images for every shift; chance 33.3 %.

usage: recentre.py RUN_ROOT
"""

import sys, time

import torch
import torch.nn.functional as F

from common import DATA, SPLITS, append
from oneshot_steel.baselines import lbp_features
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import mean_ci95, simpleshot
from oneshot_steel.sampling import EpisodeSampler
from oneshot_steel.shifts import camera_shifts
from oneshot_steel.train import load_checkpoint

OUT = "/work/scratch/s34/recentre.jsonl"


def accuracy(f, labels, classes, k_shot, centre, n=2000):
    eps = EpisodeSampler(labels, 3, k_shot, 15, seed=0, class_names=classes).sample(n)
    s, q = f[eps.support], f[eps.query].flatten(1, 2)  # [E, 3, K, D], [E, 45, D]
    if centre == "support":
        m = s.flatten(1, 2).mean(dim=1)  # [E, D]
        s = F.normalize(s - m[:, None, None], dim=-1)
        q = F.normalize(q - m[:, None], dim=-1)
    protos = s.mean(dim=2)
    pred = torch.cdist(q, protos).argmin(dim=2)
    acc = (pred == torch.arange(3).repeat_interleave(15)).float().mean(dim=1)
    m, ci = mean_ci95(acc)
    return [round(100 * m, 2), round(100 * ci, 2)]


if __name__ == "__main__":
    torch.set_num_threads(2)
    root = sys.argv[1]
    imgs = load_neu(DATA, size=200)
    lbp_all = lbp_features(imgs.images)
    for split_name in ("reverse", "main"):
        sp0 = one_shot_split(imgs, *SPLITS[split_name], seed=0)
        t0 = time.perf_counter()
        shifted = camera_shifts(sp0.test.images)
        lbp_shifted = {name: lbp_features(x) for name, x in shifted.items()}
        print(f"{split_name}: LBP of the shifted test images in {time.perf_counter() - t0:.0f} s")
        for seed in (0, 1, 2):
            sp = one_shot_split(imgs, *SPLITS[split_name], seed=seed)
            assert torch.equal(sp.test.images, sp0.test.images)
            net = load_checkpoint(f"{root}/{split_name}/seed{seed}", weights="best")[0].eval()
            # LBP of this seed's training images: pick them out of lbp_all by identity
            index = {bytes(img.numpy()): i for i, img in enumerate(imgs.images)}
            lbp_train = lbp_all[[index[bytes(img.numpy())] for img in sp.train.images]]
            for shift, images in shifted.items():
                feats = {
                    "net": embed(net, images),
                    "lbp": simpleshot(lbp_shifted[shift], lbp_train),
                }
                for method, f in feats.items():
                    for centre in ("neu", "support", "line"):
                        g = simpleshot(f, f) if centre == "line" else f
                        row = {"split": split_name, "seed": seed, "shift": shift}
                        row |= {"method": method, "centre": centre}
                        for k in (1, 5):
                            row[f"{k}shot"] = accuracy(
                                g, sp.test.labels, sp.test.classes, k, centre
                            )
                        append(OUT, row)
