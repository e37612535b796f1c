# ruff: noqa
# Exploration script of issue 15, kept as the record of how the rows next to it were made
# (paths of the worktree it ran in; not a maintained benchmark: see ../../bench_best.py).
"""Final numbers for issue 15: the ch08 recipe (= 'best') trained on RS/Pa/In, seeds 0,1,2
(training seed = split seed), 10,000 episodes, episode seed 0. Inductive SimpleShot, transductive
soft k-means (beta 5, 3 steps, chosen on the reverse split), pair verification (900 pairs,
threshold chosen on validation pairs of RS/Pa/In), and robustness to shifted test images."""

import json, sys, time
import torch, torch.nn.functional as F

sys.path.insert(0, "/work/wt-issue-15/src")
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.train import load_checkpoint
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot, episodic_accuracy, pair_verification
from oneshot_steel.transductive import transductive_accuracy
from oneshot_steel.baselines import lbp_features

torch.set_num_threads(2)
EP = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
runs = sys.argv[1].split(",")
data = load_neu("/work/shared/data/neu-cls", size=200)


def shifts(x):
    f = x.float()
    m = f.mean((2, 3), keepdim=True)
    zoom = F.interpolate(f[..., 25:175, 25:175], size=200, mode="bilinear", align_corners=False)
    blur = F.interpolate(
        F.interpolate(f, size=100, mode="area"), size=200, mode="bilinear", align_corners=False
    )
    out = {
        "none": f,
        "contrast x0.5": m + 0.5 * (f - m),
        "gamma 0.6 (brighter)": 255 * (f / 255) ** 0.6,
        "zoom 1.33x": zoom,
        "half resolution, upsampled": blur,
    }
    return {k: v.clamp(0, 255).round().to(torch.uint8) for k, v in out.items()}


for run in runs:
    name, seed = run.split(":")
    seed = int(seed)
    sp = one_shot_split(data, ["RS", "Pa", "In"], ["Cr", "PS", "Sc"], seed=seed)
    net = load_checkpoint(f"/work/wt-issue-15/_build/exp/{name}/main", weights="best")[0]
    t0 = time.perf_counter()
    tr = embed(net, sp.train)
    te = simpleshot(embed(net, sp.test), tr)
    va = simpleshot(embed(net, sp.val), tr)
    row = {"run": name, "seed": seed, "episodes": EP}
    for k in (1, 5):
        r = episodic_accuracy(te, sp.test, 3, k, 15, EP, 0)
        row[f"ind {k}-shot"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
        t = transductive_accuracy(te, sp.test, 3, k, 15, EP, 0, beta=5.0)
        row[f"td {k}-shot"] = [round(100 * t.mean, 2), round(100 * t.ci95, 2)]
    pv = pair_verification(te, sp.test, 900, None, seed=0, val_set=sp.val, val_embeddings=va)
    row["pairs val-threshold"] = round(100 * pv.accuracy_at_val_threshold, 2)
    row["pairs AUC"] = round(pv.auc, 4)
    row["pairs threshold"] = round(pv.val_threshold, 4)
    if len(sys.argv) > 3 and seed == 0:
        lbp_tr = lbp_features(sp.train.images)
        for sname, imgs in shifts(sp.test.images).items():
            f_net = simpleshot(embed(net, imgs), tr)
            f_lbp = simpleshot(lbp_features(imgs), lbp_tr)
            a = episodic_accuracy(f_net, sp.test, 3, 1, 15, 2000, 0)
            b = episodic_accuracy(f_lbp, sp.test, 3, 1, 15, 2000, 0)
            row[f"shift {sname}"] = {
                "net 1-shot": [round(100 * a.mean, 2), round(100 * a.ci95, 2)],
                "LBP+SimpleShot 1-shot": [round(100 * b.mean, 2), round(100 * b.ci95, 2)],
            }
    row["seconds"] = round(time.perf_counter() - t0, 1)
    row["load"] = open("/proc/loadavg").read().split()[0]
    print(json.dumps(row), flush=True)
    open("/work/wt-issue-15/_build/exp/final.jsonl", "a").write(json.dumps(row) + "\n")
