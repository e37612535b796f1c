# ruff: noqa
"""Issue 15 (2026-12-05, stop 30): a metric learnt from the training classes' labels.

whitening.py whitened with the *total* covariance of the training images' features (between-
and within-class variation alike) and lost. Here only the *within-class* covariance S_w of
the training classes (the mean of their class covariances) is used, as in linear
discriminant analysis: directions along which an image of a training class varies without
changing class (for example an overall brightness change) are treated as nuisance.
  - wcwhite lam: f -> (f - mean) @ (S_w + lam * mean_eig * I)^(-1/2), then unit length
  - wcdrop r: the top-r eigen-directions of S_w projected out, then unit length
Inductive: S_w comes from the training classes' images and labels only.

usage: within_class.py OUT.jsonl RUN_DIR:SPLIT:SEED ...
"""

import sys

import torch
import torch.nn.functional as F

from common import append, trained_runs
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import episodic_accuracy, simpleshot

LAMS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
DROPS = (1, 2, 3)


def within_class_cov(train, labels):
    covs = []
    for c in labels.unique():
        x = train[labels == c]
        x = x - x.mean(0)
        covs.append(x.T @ x / (len(x) - 1))
    return torch.stack(covs).mean(0)


def wc_whiten(test, train, labels, lam):
    evals, evecs = torch.linalg.eigh(within_class_cov(train, labels))
    w = evecs @ torch.diag((evals + lam * evals.mean()).rsqrt()) @ evecs.T
    return F.normalize((test - train.mean(0)) @ w, dim=1)


def wc_drop(test, train, labels, r):
    _, evecs = torch.linalg.eigh(within_class_cov(train, labels))
    p = evecs[:, -r:]  # eigh sorts ascending: the last r are the largest
    y = test - train.mean(0)
    return F.normalize(y - (y @ p) @ p.T, dim=1)


out = sys.argv[1]
for (run, split_name, seed), sp, net in trained_runs(sys.argv[2:]):
    te, tr = embed(net, sp.test).double(), embed(net, sp.train).double()
    # the recipe's head features are used raw (SimpleShot centres them); S_w is computed on
    # the SimpleShot-normalised training features, where the metric is applied
    tr_n = simpleshot(tr.float(), tr.float()).double()
    te_n = simpleshot(te.float(), tr.float()).double()
    labels = sp.train.labels
    feats = {"simpleshot": te_n.float()}
    feats |= {f"wcwhite{lam}": wc_whiten(te_n, tr_n, labels, lam).float() for lam in LAMS}
    feats |= {f"wcdrop{r}": wc_drop(te_n, tr_n, labels, r).float() for r in DROPS}
    row = {"run": run, "split": split_name, "seed": seed}
    for name, f in feats.items():
        for k in (1, 5):
            r = episodic_accuracy(f, sp.test, 3, k, 15, 2000, 0)
            row[f"{name}_{k}shot"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
    append(out, row)
