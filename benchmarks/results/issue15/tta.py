# ruff: noqa
# Exploration script of issue 15, kept as the record of how the rows next to it were made
# (nets of explore.py's quick-length runs in /tmp/exp; not a maintained benchmark).
"""Test-time variants on the quick-length exploration nets (no retraining): dihedral view
averaging and mean+std pooling. Selection on the reverse split; main split reported."""

import json, sys, time
import torch

sys.path.insert(0, "/work/main/src")
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.train import load_checkpoint
from oneshot_steel.augment import to_model_input
from oneshot_steel.evaluate import simpleshot, episodic_accuracy

torch.set_num_threads(2)
SPLITS = {
    "main": (["RS", "Pa", "In"], ["Cr", "PS", "Sc"]),
    "reverse": (["Cr", "PS", "Sc"], ["RS", "Pa", "In"]),
}
SEEDS = {"base": 0, "seed1": 1, "seed2": 2}
data = load_neu("/work/shared/data/neu-cls", size=200)


def views(x, n):
    out = []
    for k in range(4 if n == 8 else (2 if n == 4 else 1)):
        r = torch.rot90(x, k, (2, 3))
        out.append(r)
        if n >= 2:
            out.append(torch.flip(r, (3,)))
    return out[:n]


@torch.no_grad()
def feats(net, images, n_views):
    f = net.features
    head, ms = [], []
    for chunk in images.split(100):
        h_acc, m_acc = 0, 0
        for v in views(chunk, n_views):
            x = to_model_input(v)
            x = f.pool2(f.block2(f.pool1(f.block1(x))))
            b4 = f.block4(f.pool3(f.block3(x)))
            gap = b4.mean((2, 3))
            h_acc = h_acc + net.head(gap)
            m_acc = m_acc + torch.cat([gap, b4.std((2, 3))], 1)
        head.append(h_acc / n_views)
        ms.append(m_acc / n_views)
    return torch.cat(head), torch.cat(ms)


rows = []
for split_name in sys.argv[1].split(","):
    ens = {}
    for variant, seed in SEEDS.items():
        sp = one_shot_split(data, *SPLITS[split_name], seed=seed)
        net = load_checkpoint(f"/tmp/exp/{variant}/{split_name}", weights="best")[0].eval()
        row = {"variant": variant, "split": split_name, "seed": seed}
        t0 = time.perf_counter()
        for nv in (1, 2, 8):
            te_h, te_m = feats(net, sp.test.images, nv)
            tr_h, tr_m = feats(net, sp.train.images, nv)
            for name, (a, b) in {"head": (te_h, tr_h), "meanstd": (te_m, tr_m)}.items():
                ss = simpleshot(a, b)
                ens.setdefault((name, nv), []).append((ss, sp.test.paths))
                for k in (1, 5):
                    r = episodic_accuracy(ss, sp.test, 3, k, 15, 2000, 0)
                    row[f"{name}_v{nv}_{k}shot"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
        row["secs"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(row), flush=True)
        rows.append(row)
        last_test = sp.test
    for (name, nv), lst in ens.items():
        same = all(p == lst[0][1] for _, p in lst)
        if not same:
            print("test sets differ across seeds; no ensemble", flush=True)
            break
        fe = torch.cat([s for s, _ in lst], 1)
        out = {"variant": f"ensemble3-{name}-v{nv}", "split": split_name}
        for k in (1, 5):
            r = episodic_accuracy(fe, last_test, 3, k, 15, 2000, 0)
            out[f"{k}shot"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
        print(json.dumps(out), flush=True)
