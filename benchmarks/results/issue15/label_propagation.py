# ruff: noqa
"""Issue 15 (2026-12-05): label propagation over a kNN graph (Zhou et al., NIPS 2003), two
protocols, against soft k-means on the same episodes.

- ``episode``: transductive, the graph holds one episode's supports and queries (48 nodes
  1-shot), the protocol of soft k-means;
- ``pool``: semi-supervised, the graph holds all 900 unlabelled test-class images; the
  supports of an episode are labelled nodes of it, its queries are scored.

Graph: Gaussian affinities exp(-d^2 / median d^2) on unit-length SimpleShot features, each
node keeps its k largest, symmetrised, normalised D^-1/2 W D^-1/2; F = (I - alpha S)^-1 Y,
each class column of F divided by its sum over the queries (class balance). k and alpha are
chosen on the reverse split.

usage: label_propagation.py K1,K2,... OUT.jsonl RUN_DIR:SPLIT:SEED ...
"""

import sys

import torch

from common import append, score, trained_runs
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot
from oneshot_steel.sampling import EpisodeSampler
from oneshot_steel.transductive import transductive_accuracy


def propagator(x, k, alpha):
    """(I - alpha S)^-1 over the kNN graph of the rows of x [..., M, D] (batched)."""
    d2 = torch.cdist(x, x) ** 2
    m = x.shape[-2]
    w = torch.exp(-d2 / d2.flatten(-2).median(dim=-1).values[..., None, None])
    w = w * (1 - torch.eye(m, dtype=x.dtype))
    kth = w.topk(min(k, m - 1), dim=-1).values[..., -1:]
    w = torch.where(w >= kth, w, torch.zeros((), dtype=x.dtype))
    w = (w + w.transpose(-1, -2)) / 2
    dinv = w.sum(-1).clamp_min(1e-12).rsqrt()
    s = dinv[..., :, None] * w * dinv[..., None, :]
    return torch.linalg.inv(torch.eye(m, dtype=x.dtype) - alpha * s)


def propagation_accuracy(f, labels, k_shot, k, alpha, mode, episodes=2000):
    eps = EpisodeSampler(labels, 3, k_shot, 15, seed=0).sample(episodes)
    sup = eps.support.reshape(episodes, -1)  # [E, 3K]
    qry = eps.query.reshape(episodes, -1)  # [E, 45]
    y = torch.nn.functional.one_hot(torch.arange(3).repeat_interleave(k_shot), 3).double()
    if mode == "pool":
        fq = propagator(f.double(), k, alpha)[qry[:, :, None], sup[:, None, :]] @ y
    else:
        p = propagator(f.double()[torch.cat([sup, qry], 1)], k, alpha)
        fq = p[:, sup.shape[1] :, : sup.shape[1]] @ y
    fq = fq / fq.sum(1, keepdim=True).clamp_min(1e-30)
    hit = fq.argmax(-1) == torch.arange(3).repeat_interleave(15)
    return round(100 * hit.double().mean().item(), 2)


ks = [int(v) for v in sys.argv[1].split(",")]
out = sys.argv[2]
for (run, split_name, seed), split, net in trained_runs(sys.argv[3:]):
    f = simpleshot(embed(net, split.test), embed(net, split.train))
    row = {"run": run, "split": split_name, "seed": seed, "inductive": score(net, split)}
    for shot in (1, 5):
        r = transductive_accuracy(f, split.test, 3, shot, 15, 2000, 0, beta=5.0)
        row[f"soft_kmeans_{shot}shot"] = round(100 * r.mean, 2)
    f = torch.nn.functional.normalize(f, dim=1)
    for mode in ("episode", "pool"):
        for k in ks:
            for alpha in (0.5, 0.8, 0.95):
                lp = {
                    s: propagation_accuracy(f, split.test.labels, s, k, alpha, mode) for s in (1, 5)
                }
                append(
                    out,
                    row
                    | {"mode": mode, "k": k, "alpha": alpha, "lp_1shot": lp[1], "lp_5shot": lp[5]},
                )
