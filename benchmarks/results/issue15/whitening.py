# ruff: noqa
# Exploration script of issue 15 (stop 28), kept as the record of how whitening.jsonl was
# made (nets: explore2.py base runs, /tmp/s27/runs/base/SPLIT/seedN); not a maintained benchmark.
"""Issue 15, stop 28: whiten the features with the training images' covariance instead of only
centring them (SimpleShot). f -> (f - mean) @ (C + lam * mean_eig * I)^(-1/2), then unit
length; lam = inf is SimpleShot itself. Inductive: the statistics come from the training
classes' images only. Also: drop the top-r principal directions of the training features, or keep only the
top k (PCA truncation).

usage: whitening.py RUN_DIR:SPLIT:SEED ...
"""

import sys, time

import torch
import torch.nn.functional as F

from common import append, trained_runs
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import episodic_accuracy, simpleshot

OUT = "/tmp/s28/whitening.jsonl"
LAMS = (0.01, 0.1, 0.3, 1.0, 3.0)
DROPS = (1, 2, 4, 8)
KEEPS = (4, 8, 16, 32)  # the opposite: keep only the top-k principal directions


def whiten(test, train, lam):
    mu = train.mean(0)
    x = train - mu
    cov = x.T @ x / (len(x) - 1)
    evals, evecs = torch.linalg.eigh(cov)
    reg = evals + lam * evals.mean()
    w = evecs @ torch.diag(reg.rsqrt()) @ evecs.T
    return F.normalize((test - mu) @ w, dim=1)


def keep_top(test, train, k):
    mu = train.mean(0)
    _, _, v = torch.linalg.svd(train - mu, full_matrices=False)
    p = v[:k].T
    return F.normalize(((test - mu) @ p), dim=1)


def drop_top(test, train, r):
    mu = train.mean(0)
    x = train - mu
    _, _, v = torch.linalg.svd(x, full_matrices=False)
    p = v[:r].T  # [D, r]
    y = test - mu
    return F.normalize(y - (y @ p) @ p.T, dim=1)


t0 = time.perf_counter()
for (run, split_name, seed), sp, net in trained_runs(sys.argv[1:]):
    te, tr = embed(net, sp.test).double(), embed(net, sp.train).double()
    feats = {"simpleshot": simpleshot(te.float(), tr.float())}
    feats |= {f"white{lam}": whiten(te, tr, lam).float() for lam in LAMS}
    feats |= {f"drop{r}": drop_top(te, tr, r).float() for r in DROPS}
    feats |= {f"keep{k}": keep_top(te, tr, k).float() for k in KEEPS}
    row = {"run": run, "split": split_name, "seed": seed}
    for name, f in feats.items():
        for k in (1, 5):
            r = episodic_accuracy(f, sp.test, 3, k, 15, 2000, 0)
            row[f"{name}_{k}shot"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
    row["seconds"] = round(time.perf_counter() - t0, 1)
    append(OUT, row)
    t0 = time.perf_counter()
