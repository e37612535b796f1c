# ruff: noqa
# Exploration script of issue 15 (stop 34), kept as the record of how csls.jsonl was made;
# not a maintained benchmark.
"""Issue 15, stop 34: hubness reduction (CSLS) at test time, for episodes and for pairs.

Some images sit in a dense part of the feature space ("hubs"): they are close to many
images, of their class or not, and as a prototype they attract queries of other classes;
as half of a pair they make "same" too easy to say. Cross-domain similarity local scaling
(CSLS, Conneau et al. 2018) discounts that: with r(x) the mean cosine of x to its k nearest
TRAINING images (SimpleShot features, so no test image is used), the score of a pair is
2 cos(x, y) - r(x) - r(y). For an episode, a query goes to the class whose (unit-length)
prototype p maximises 2 cos(q, p) - r(p) (r(q) is the same for every class). For pairs,
-score is the distance, and the threshold is still chosen on validation pairs of the
training classes (their r also against the training images).

No training: the recipe's quick-length nets of stop 33 (``finetune.py``'s ``base`` runs),
both splits, seeds 0-2; k chosen on the reverse split. 2,000 3-way episodes (episode seed
0) and the CLI's pairs (900 test pairs, pair seed 0; 900 validation pairs, seed 1).

usage: csls.py RUN_ROOT   (RUN_ROOT/{reverse,main}/seed{0,1,2})
"""

import sys

import torch
import torch.nn.functional as F

from common import DATA, SPLITS, append
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import _pairs, best_threshold, mean_ci95, simpleshot
from oneshot_steel.sampling import EpisodeSampler
from oneshot_steel.train import load_checkpoint

KS = (0, 5, 10, 20, 50)  # 0: no CSLS (cosine nearest prototype / the plain distance)


def local_density(x, ref, k):
    return (x @ ref.T).topk(k, dim=1).values.mean(dim=1)


def episodes(f, ref, labels, classes, k_shot, k, n=2000):
    eps = EpisodeSampler(labels, 3, k_shot, 15, seed=0, class_names=classes).sample(n)
    protos = F.normalize(f[eps.support].mean(dim=2), dim=-1)  # [E, 3, D]
    q = f[eps.query].flatten(1, 2)  # [E, 45, D]
    score = 2 * q @ protos.transpose(1, 2)  # [E, 45, 3]
    if k:
        r = local_density(protos.reshape(-1, f.shape[1]), ref, k).view(-1, 1, 3)
        score = score - r
    target = torch.arange(3).repeat_interleave(15)
    acc = (score.argmax(2) == target).float().mean(1)
    m, ci = mean_ci95(acc)
    return [round(100 * m, 2), round(100 * ci, 2)]


def pair_distances(f, ref, imageset, seed, k):
    d, same = _pairs(f, imageset, 900, seed)
    if not k:
        return d, same
    # recompute the same pairs' indices: _pairs returns distances only, so rebuild them
    from oneshot_steel.sampling import PairSampler

    s = PairSampler(imageset.labels, 900, 0.5, seed, class_names=imageset.classes)
    i1, i2, same2 = s.sample_epoch(0)
    assert torch.equal(same2.cpu(), same)
    r = local_density(f, ref, k)
    score = 2 * (f[i1] * f[i2]).sum(1) - r[i1] - r[i2]
    return -score, same


if __name__ == "__main__":
    torch.set_num_threads(2)
    root = sys.argv[1]
    imgs = load_neu(DATA, size=200)
    for split_name in ("reverse", "main"):
        for seed in (0, 1, 2):
            sp = one_shot_split(imgs, *SPLITS[split_name], seed=seed)
            net = load_checkpoint(f"{root}/{split_name}/seed{seed}", weights="best")[0].eval()
            train = embed(net, sp.train)
            ref = simpleshot(train, train)
            ft, fv = simpleshot(embed(net, sp.test), train), simpleshot(embed(net, sp.val), train)
            for k in KS:
                row = {"split": split_name, "seed": seed, "k": k}
                for shots in (1, 5):
                    row[f"{shots}shot"] = episodes(
                        ft, ref, sp.test.labels, sp.test.classes, shots, k
                    )
                vd, vsame = pair_distances(fv, ref, sp.val, 1, k)
                thr, _ = best_threshold(vd, vsame)
                d, same = pair_distances(ft, ref, sp.test, 0, k)
                row["pairs_val_threshold"] = round(
                    100 * float(((d < thr).float() == same.float()).float().mean()), 2
                )
                row["pairs_ceiling"] = round(100 * best_threshold(d, same)[1], 2)
                append("/work/scratch/s34/csls.jsonl", row)
