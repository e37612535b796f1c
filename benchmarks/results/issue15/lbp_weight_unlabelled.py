# ruff: noqa
# Exploration script of issue 15 (stop 27), kept as the record of how
# lbp-weight-unlabelled.jsonl was made; not a maintained benchmark.
"""Issue 15, stop 27: choose the LBP weight of with_lbp.py from the *unlabelled* test-class
images (a semi-supervised protocol: own rows, never mixed with the inductive ones).

For each weight w, k-means (k = number of unseen classes) on the concatenated features of
all unlabelled test-class images; the weight whose clustering has the highest silhouette is
chosen; no label is read until the episodes score the choice.

usage: lbp_weight_unlabelled.py RUN_DIR:SPLIT:SEED ...
"""

import json, sys
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

sys.path.insert(0, "/work/main/src")
from oneshot_steel.baselines import lbp_features
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot, episodic_accuracy

torch.set_num_threads(2)
OUT = "/tmp/s27/lbp-weight-unlabelled.jsonl"
SPLITS = {
    "main": (["RS", "Pa", "In"], ["Cr", "PS", "Sc"]),
    "reverse": (["Cr", "PS", "Sc"], ["RS", "Pa", "In"]),
}
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
imgs = load_neu("/work/shared/data/neu-cls", size=200)
from oneshot_steel.train import load_checkpoint

for token in sys.argv[1:]:
    run, split_name, seed = token.split(":")
    sp = one_shot_split(imgs, *SPLITS[split_name], seed=int(seed))
    net = load_checkpoint(run, weights="best")[0].eval()
    f_net = simpleshot(embed(net, sp.test), embed(net, sp.train))
    f_lbp = simpleshot(lbp_features(sp.test.images), lbp_features(sp.train.images))
    row = {"run": run, "split": split_name, "seed": int(seed), "silhouette": {}}
    for w in WEIGHTS:
        x = torch.cat([f_net, w * f_lbp], 1).numpy()
        km = KMeans(n_clusters=len(sp.test.classes), n_init=10, random_state=0).fit(x)
        row["silhouette"][str(w)] = round(float(silhouette_score(x, km.labels_)), 4)
    w = max(WEIGHTS, key=lambda v: row["silhouette"][str(v)])
    row["chosen_w"] = w
    x = torch.cat([f_net, w * f_lbp], 1)
    for k in (1, 5):
        r = episodic_accuracy(x, sp.test, 3, k, 15, 2000, 0)
        row[f"chosen_{k}shot"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
    print(json.dumps(row), flush=True)
    with open(OUT, "a") as fh:
        fh.write(json.dumps(row) + "\n")
