# ruff: noqa
"""Issue 15 (2026-12-05, stop 30): with K > 1 shots, is the class mean the right rule?

Stop 29's diagnosis: PS and Sc are several clusters each, so the mean of K support features
may fall between clusters. Test time only, inductive: the same episodes (episode seed 0) as
``episodic_accuracy``, SimpleShot features, scored by
  - prototype: nearest class mean (the recipe; reproduces ``episodic_accuracy``),
  - nearest: the class of the most similar single support image (1-NN over the K shots),
  - top2: the mean of each class's two highest cosine similarities,
  - softmax T: T * logsumexp(cos / T) over each class's shots (T 0.05, 0.1; between the
    mean, T -> inf, and the maximum, T -> 0).

usage: kshot_rules.py OUT.jsonl RUN_DIR:SPLIT:SEED ...
"""

import sys

import torch
import torch.nn.functional as F

from common import append, trained_runs
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import episodic_accuracy, mean_ci95, simpleshot
from oneshot_steel.sampling import EpisodeSampler

args = sys.argv[1:]
out = args.pop(0)
n_episodes = 2000
if args and args[0].startswith("--episodes="):
    n_episodes = int(args.pop(0).split("=")[1])


def rule_scores(cos, rule):
    """cos [E, NQ, N, K] -> class scores [E, NQ, N]."""
    if rule == "prototype":
        return None
    if rule == "nearest":
        return cos.amax(-1)
    if rule == "top2":
        return cos.topk(2, dim=-1).values.mean(-1)
    t = float(rule.split()[1])
    return t * torch.logsumexp(cos / t, dim=-1)


RULES = ["prototype", "nearest", "top2", "softmax 0.05", "softmax 0.1"]
for (run, split_name, seed), split, net in trained_runs(args):
    f = simpleshot(embed(net, split.test), embed(net, split.train))
    z = F.normalize(f.double(), dim=1)
    for k in (2, 3, 5):
        row = {"run": run, "split": split_name, "seed": seed, "k": k, "episodes": n_episodes}
        eps = EpisodeSampler(split.test.labels, 3, k, 15, seed=0).sample(n_episodes)
        qry = eps.query.flatten(1, 2)  # [E, NQ]
        target = torch.arange(3).repeat_interleave(15)
        cos = torch.einsum("eqd,enkd->eqnk", z[qry], z[eps.support])
        for rule in RULES:
            if rule == "prototype":
                r = episodic_accuracy(f, split.test, 3, k, 15, n_episodes, 0)
                acc = (r.mean, r.ci95)
                # the same rule by hand, to check the episodes are the same ones
                proto = z[eps.support].mean(2)
                d = torch.cdist(z[qry], proto)
                mine = (d.argmin(-1) == target).double().mean(1)
                assert abs(float(mine.mean()) - r.mean) < 1e-6, (float(mine.mean()), r.mean)
            else:
                pred = rule_scores(cos, rule).argmax(-1)
                acc = mean_ci95((pred == target).double().mean(1))
            row[rule] = [round(100 * acc[0], 2), round(100 * acc[1], 2)]
        append(out, row)
