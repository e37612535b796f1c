# ruff: noqa
# Exploration script of issue 15 (stop 27), kept as the record of how with-lbp.jsonl was made
# (its runs: explore2.py base, reverse seeds 0-1 and main seeds 0-2); not a maintained
# benchmark.
"""Issue 15, stop 27: the recipe's feature concatenated with LBP texture histograms.

Both features are SimpleShot-normalised on their own (centred by the training images' mean,
unit length), then concatenated with LBP weighted by w: an ensemble of a learned and a
hand-made texture descriptor, which fail differently (chapter 8: LBP holds up better under
contrast and blur shifts). Inductive; the same 2,000 3-way episodes as the recipe's row.

usage: with_lbp.py RUN_DIR:SPLIT:SEED ...
"""

import json, sys, time
import torch

sys.path.insert(0, "/work/main/src")
from oneshot_steel.baselines import lbp_features
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot, episodic_accuracy
from oneshot_steel.train import load_checkpoint

torch.set_num_threads(2)
OUT = "/tmp/s27/with-lbp.jsonl"
DATA = "/work/shared/data/neu-cls"
SPLITS = {
    "main": (["RS", "Pa", "In"], ["Cr", "PS", "Sc"]),
    "reverse": (["Cr", "PS", "Sc"], ["RS", "Pa", "In"]),
}
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)

imgs = load_neu(DATA, size=200)
lbp_cache = {}
for token in sys.argv[1:]:
    run, split_name, seed = token.split(":")
    sp = one_shot_split(imgs, *SPLITS[split_name], seed=int(seed))
    t0 = time.perf_counter()
    net = load_checkpoint(run, weights="best")[0].eval()
    f_net = simpleshot(embed(net, sp.test), embed(net, sp.train))
    f_lbp = simpleshot(lbp_features(sp.test.images), lbp_features(sp.train.images))
    row = {"run": run, "split": split_name, "seed": int(seed)}
    for w in WEIGHTS:
        x = torch.cat([f_net, w * f_lbp], 1)
        for k in (1, 5):
            r = episodic_accuracy(x, sp.test, 3, k, 15, 2000, 0)
            row[f"w{w}_{k}shot"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
    for k in (1, 5):
        r = episodic_accuracy(f_lbp, sp.test, 3, k, 15, 2000, 0)
        row[f"lbp_only_{k}shot"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
    row["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(row), flush=True)
    with open(OUT, "a") as fh:
        fh.write(json.dumps(row) + "\n")
