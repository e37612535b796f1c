# ruff: noqa
# Exploration script of issue 15 (stop 27), kept as the record of how local-descriptors.jsonl
# was made (its runs: explore2.py base, reverse seeds 0-1 and main seeds 0-2); not a
# maintained benchmark.
"""Issue 15, stop 27: image-to-class matching of local descriptors (DN4, Li et al. 2019) on
top of a trained recipe net, against the recipe's global SimpleShot feature, same episodes.

Each image gives the block-4 map of the compact net, average-pooled 2x2 (200 px -> 12 x 12
positions), projected by the net's head (1x1: the head is linear, so these local features
average to the global one), centred by the training images' mean local feature and scaled to
unit length. A query's score for a class is sum over its positions of the top-k cosine
similarities to the class's support positions (k=1: max). Inductive: each query alone.

usage: [POOLS=2,5] local_descriptors.py RUN_DIR:SPLIT:SEED ...   (runs of explore2.py)
"""

import json, os, sys, time
import torch, torch.nn.functional as F

sys.path.insert(0, "/work/main/src")
from oneshot_steel.augment import to_model_input
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot, episodic_accuracy, mean_ci95
from oneshot_steel.sampling import EpisodeSampler
from oneshot_steel.train import load_checkpoint

torch.set_num_threads(2)
OUT = "/tmp/s27/local.jsonl"
DATA = "/work/shared/data/neu-cls"
SPLITS = {
    "main": (["RS", "Pa", "In"], ["Cr", "PS", "Sc"]),
    "reverse": (["Cr", "PS", "Sc"], ["RS", "Pa", "In"]),
}
EPISODES, QUERIES = 2000, 15


@torch.inference_mode()
def local_features(net, images, pool=2, batch=64):
    out = []
    trunk = net.features[:-2]  # up to block4, before GAP and flatten
    for s in range(0, len(images), batch):
        fmap = trunk(to_model_input(images[s : s + batch]))
        if pool > 1:
            fmap = F.avg_pool2d(fmap, pool)
        loc = fmap.flatten(2).transpose(1, 2)  # [B, P, C]
        out.append(net.head(loc))  # [B, P, D]
    return torch.cat(out)


@torch.inference_mode()
def max_sims(q, s, ks=(1, 3), chunk=2):
    """For every (query image, support image): per query position, the sum of the top-k
    cosine similarities to that support image's positions -> {k: [Nq, Ns, P]} (float16)."""
    kmax = max(ks)
    out = {k: torch.empty(q.shape[0], s.shape[0], q.shape[1], dtype=torch.float16) for k in ks}
    sf = s.reshape(-1, s.shape[-1]).T.contiguous()  # [D, Ns*P]
    for a in range(0, q.shape[0], chunk):
        sims = (q[a : a + chunk].reshape(-1, q.shape[-1]) @ sf).view(
            -1, q.shape[1], s.shape[0], s.shape[1]
        )  # [c, Pq, Ns, Ps]
        top = sims.topk(kmax, dim=-1).values  # [c, Pq, Ns, kmax]
        for k in ks:
            out[k][a : a + chunk] = top[..., :k].sum(-1).transpose(1, 2).half()
    return out


def episode_accuracy_local(M, labels, k_shot, seed=0):
    """Image-to-class: a class's score for a query sums, over the query's positions, the best
    top-k similarity among the class's K support images (k=1: exact DN4 with K images)."""
    sampler = EpisodeSampler(labels, 3, k_shot, QUERIES, seed=seed)
    eps = sampler.sample(EPISODES)
    accs = []
    target = torch.arange(3).repeat_interleave(QUERIES)
    for e in range(EPISODES):
        sup, qry = eps.support[e], eps.query[e].flatten()  # [N, K], [N*Q]
        # [N*Q, N, K, P] -> max over K images -> sum over positions -> [N*Q, N]
        sc = M[qry[:, None, None], sup[None]].float().amax(dim=2).sum(-1)
        accs.append((sc.argmax(1) == target).float().mean())
    return mean_ci95(torch.stack(accs))


imgs = load_neu(DATA, size=200)
for token in sys.argv[1:]:
    run, split_name, seed = token.split(":")
    sp = one_shot_split(imgs, *SPLITS[split_name], seed=int(seed))
    net = load_checkpoint(run, weights="best")[0].eval().float()
    row = {"run": run, "split": split_name, "seed": int(seed)}
    t0 = time.perf_counter()
    f = simpleshot(embed(net, sp.test), embed(net, sp.train))
    for k in (1, 5):
        r = episodic_accuracy(f, sp.test, 3, k, QUERIES, EPISODES, 0)
        row[f"global_{k}shot"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
    for pool in [int(p) for p in os.environ.get("POOLS", "2,5").split(",")]:
        tr = local_features(net, sp.train.images, pool)
        mean = tr.reshape(-1, tr.shape[-1]).mean(0)
        te = F.normalize(local_features(net, sp.test.images, pool) - mean, dim=-1)
        Ms = max_sims(te, te)
        for kn, M in Ms.items():
            for k in (1, 5):
                m, ci = episode_accuracy_local(M, sp.test.labels, k)
                row[f"local_p{pool}_top{kn}_{k}shot"] = [round(100 * m, 2), round(100 * ci, 2)]
        print(json.dumps(row), flush=True)
    row["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(row), flush=True)
    with open(OUT, "a") as fh:
        fh.write(json.dumps(row) + "\n")
