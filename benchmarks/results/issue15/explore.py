# ruff: noqa
# Exploration script of issue 15, kept as the record of how the rows next to it were made
# (paths of the worktree it ran in; not a maintained benchmark: see ../../bench_best.py).
"""Exploration for issue 15: variants of ch08's self-supervised recipe, quick length, seed 0.
Each variant trained on the paper's split (RS/Pa/In) and on the reverse split (Cr/PS/Sc);
selection on the reverse split, main split reported. 2,000 episodes, episode seed 0."""

import json, sys, time
from dataclasses import replace
import torch, torch.nn.functional as F

sys.path.insert(0, "/work/wt-issue-15/src")
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.train import TrainConfig, _fit, load_checkpoint
from oneshot_steel.tasks import SelfSupervisedTask
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot, episodic_accuracy
from oneshot_steel.sampling import EpisodeSampler
from oneshot_steel.losses import nt_xent_loss
from oneshot_steel.augment import to_model_input

torch.set_num_threads(2)
OUT = "/work/wt-issue-15/_build/exp"
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


def supcon(z, labels, tau):
    z = F.normalize(z.float(), dim=1)
    logits = z @ z.T / tau
    eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(eye, float("-inf"))
    pos = (labels[:, None] == labels[None, :]) & ~eye
    logp = logits - logits.logsumexp(1, keepdim=True)
    return -(logp.masked_fill(~pos, 0).sum(1) / pos.sum(1).clamp(min=1)).mean()


class Combined(SelfSupervisedTask):
    kind = "selfsup"

    def loss(self, batch, gen):
        images = self.images[batch]
        views = self.net(self.inputs(torch.cat([images, images]), gen)).float()
        v1, v2 = views.chunk(2)
        lab = torch.cat([self.labels[batch]] * 2)
        return 0.5 * nt_xent_loss(v1, v2, self.cfg.temperature) + 0.5 * supcon(
            views, lab, self.cfg.temperature
        )


VARIANTS = {
    "base": (base, 200, SelfSupervisedTask),
    "fast100": (replace(base, crop_size=32), 100, SelfSupervisedTask),
    "ssl+supcon": (base, 200, Combined),
    "tau0.1": (replace(base, temperature=0.1), 200, SelfSupervisedTask),
    "crop96": (replace(base, crop_size=96), 200, SelfSupervisedTask),
    # window sizes, 2026-12-03 (run with OUT = "/tmp/exp/issue15"): windows-reverse.jsonl
    "crop96-seed1": (replace(base, crop_size=96, seed=1), 200, SelfSupervisedTask),
    "crop48": (replace(base, crop_size=48), 200, SelfSupervisedTask),
    "crop48-seed1": (replace(base, crop_size=48, seed=1), 200, SelfSupervisedTask),
    "ssl_unlab": (base, 200, SelfSupervisedTask),  # + unlabelled test-class images (semi-sup.)
    "seed1": (replace(base, seed=1), 200, SelfSupervisedTask),
    "seed2": (replace(base, seed=2), 200, SelfSupervisedTask),
}


def transductive(emb, test, k, n_episodes=2000, beta=10.0, iters=3, seed=0):
    s = EpisodeSampler(test.labels, 3, k, 15, seed=seed).sample(n_episodes)
    sup, qry = emb[s.support], emb[s.query].flatten(1, 2)
    protos = sup.mean(2)
    for _ in range(iters):
        w = torch.softmax(-beta * torch.cdist(qry, protos) ** 2, dim=2)  # [E, NQ, N]
        protos = (sup.sum(2) + w.transpose(1, 2) @ qry) / (k + w.sum(1))[..., None]
    pred = torch.cdist(qry, protos).argmin(2)
    target = torch.arange(3).repeat_interleave(15)
    acc = (pred == target).float().mean(1)
    return float(acc.mean()), float(1.96 * acc.std() / len(acc) ** 0.5)


from oneshot_steel.data.imageset import ImageSet

imgs = {}
for token in sys.argv[1:]:
    name, split_name = token.split(":")
    tr_c, te_c = SPLITS[split_name]
    cfg, size, task = VARIANTS[name]
    if size not in imgs:
        imgs[size] = load_neu(DATA, size=size)
    if True:
        sp = one_shot_split(imgs[size], tr_c, te_c, seed=cfg.seed)
        run = f"{OUT}/{name}/{split_name}"
        t0 = time.perf_counter()
        fit_set = sp.train
        if name == "ssl_unlab":  # the labels of the test images are never read by NT-Xent
            fit_set = ImageSet(
                torch.cat([sp.train.images, sp.test.images]),
                torch.cat([sp.train.labels, sp.test.labels + len(sp.train.classes)]),
                list(sp.train.classes) + list(sp.test.classes),
                list(sp.train.paths) + list(sp.test.paths),
            )
        val_set = sp.val
        if name == "ssl_unlab":
            val_set = ImageSet(
                sp.val.images, sp.val.labels, list(fit_set.classes), list(sp.val.paths)
            )
        _fit(task, cfg, fit_set, val_set, run, None, True, False)
        secs = time.perf_counter() - t0
        net = load_checkpoint(run, weights="best")[0]
        te, trf = embed(net, sp.test), embed(net, sp.train)
        f = simpleshot(te, trf)
        feats = {}
        with torch.no_grad():  # pre-head (GAP) features as well as the head's
            for nm, ims in (("te", sp.test.images), ("tr", sp.train.images)):
                feats[nm] = torch.cat([net.features(to_model_input(c)) for c in ims.split(64)])
        fp = simpleshot(feats["te"], feats["tr"])
        for k in (1, 5):
            r = episodic_accuracy(fp, sp.test, 3, k, 15, 2000, 0)
            print(
                name,
                split_name,
                "prehead",
                k,
                round(100 * r.mean, 2),
                round(100 * r.ci95, 2),
                flush=True,
            )
            m, c = transductive(fp, sp.test, k, beta=5.0)
            print(
                name,
                split_name,
                "prehead T b5",
                k,
                round(100 * m, 2),
                round(100 * c, 2),
                flush=True,
            )
        row = {
            "variant": name,
            "split": split_name,
            "seed": cfg.seed,
            "train_s": round(secs, 1),
            "size": size,
        }
        for k in (1, 5):
            r = episodic_accuracy(f, sp.test, 3, k, 15, 2000, 0)
            row[f"{k}shot"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
            for beta in (5.0, 10.0, 20.0):
                m, c = transductive(f, sp.test, k, beta=beta)
                row[f"T{k}shot_b{beta:g}"] = [round(100 * m, 2), round(100 * c, 2)]
        # multi-scale test-time ensembling: features at full size and half size, concatenated
        half = size // 2
        if half >= 64:
            small_te = (
                F.interpolate(sp.test.images.float(), size=half, mode="area")
                .round()
                .to(torch.uint8)
            )
            small_tr = (
                F.interpolate(sp.train.images.float(), size=half, mode="area")
                .round()
                .to(torch.uint8)
            )
            g = simpleshot(embed(net, small_te), embed(net, small_tr))
            fm = torch.cat([f, g], 1) / 2**0.5
            for k in (1, 5):
                r = episodic_accuracy(fm, sp.test, 3, k, 15, 2000, 0)
                row[f"MS{k}shot"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
        row["load"] = open("/proc/loadavg").read().split()[0]
        print(json.dumps(row), flush=True)
        with open(f"{OUT}/results.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")
