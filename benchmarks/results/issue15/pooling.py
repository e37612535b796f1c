# ruff: noqa
# Exploration script of issue 15, kept as the record of how the rows next to it were made
# (paths of the worktree it ran in; not a maintained benchmark: see ../../bench_best.py).
"""Test-time features of a trained compact net (no retraining): head vs pre-head pooling."""

import json, sys
import torch, torch.nn.functional as F

sys.path.insert(0, "/work/main/src")  # stop 27: was /work/wt-issue-15/src
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
# usage: pooling.py RUN_DIR SPLIT [SEED]   (stop 27; the first row came from the run
# _build/exp/base/main of an earlier worktree, split seed 0)
run, split_name = sys.argv[1], sys.argv[2]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
variant = run
data = load_neu("/work/shared/data/neu-cls", size=200)
sp = one_shot_split(data, *SPLITS[split_name], seed=seed)
net = load_checkpoint(run, weights="best")[0].eval()
f = net.features


def maps(images):
    out = {"b3": [], "b4": [], "head": []}
    with torch.no_grad():
        for chunk in images.split(64):
            x = to_model_input(chunk)
            x = f.pool2(f.block2(f.pool1(f.block1(x))))
            b3 = f.block3(x)
            b4 = f.block4(f.pool3(b3))
            out["b3"].append(
                torch.stack(
                    [
                        b3.mean((2, 3)),
                        b3.std((2, 3)),
                        b3.clamp(min=1e-6).pow(3).mean((2, 3)).pow(1 / 3),
                    ],
                    1,
                )
            )
            out["b4"].append(
                torch.stack(
                    [
                        b4.mean((2, 3)),
                        b4.std((2, 3)),
                        b4.clamp(min=1e-6).pow(3).mean((2, 3)).pow(1 / 3),
                    ],
                    1,
                )
            )
            out["head"].append(net.head(b4.mean((2, 3))))
    return {k: torch.cat(v) for k, v in out.items()}


te, tr = maps(sp.test.images), maps(sp.train.images)
feats = {
    "head": (te["head"], tr["head"]),
    "prehead_gap": (te["b4"][:, 0], tr["b4"][:, 0]),
    "prehead_gem3": (te["b4"][:, 2], tr["b4"][:, 2]),
    "b4_mean_std": (te["b4"][:, :2].flatten(1), tr["b4"][:, :2].flatten(1)),
    "b3_gap": (te["b3"][:, 0], tr["b3"][:, 0]),
    "b3b4_gap": (None, None),
    "b3b4_mean_std": (None, None),
}


def ss(name_te, name_tr):
    return simpleshot(name_te, name_tr)


row = {"variant": variant, "split": split_name, "seed": seed}
for name, (a, b) in feats.items():
    if name == "b3b4_gap":
        x = torch.cat([ss(te["b3"][:, 0], tr["b3"][:, 0]), ss(te["b4"][:, 0], tr["b4"][:, 0])], 1)
    elif name == "b3b4_mean_std":
        x = torch.cat(
            [
                ss(te["b3"][:, :2].flatten(1), tr["b3"][:, :2].flatten(1)),
                ss(te["b4"][:, :2].flatten(1), tr["b4"][:, :2].flatten(1)),
            ],
            1,
        )
    else:
        x = ss(a, b)
    r1 = episodic_accuracy(x, sp.test, 3, 1, 15, 2000, 0)
    r5 = episodic_accuracy(x, sp.test, 3, 5, 15, 2000, 0)
    row[name] = [round(100 * r1.mean, 2), round(100 * r5.mean, 2), round(100 * r1.ci95, 2)]
print(json.dumps(row), flush=True)
open("/tmp/s27/pooling.jsonl", "a").write(json.dumps(row) + "\n")
