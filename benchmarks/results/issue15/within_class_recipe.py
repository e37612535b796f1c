# ruff: noqa
"""Issue 15 (2026-12-05, stop 30): the recipe `best` with the within-class whitening inside
the net (strength 10, chosen on the reverse split by within_class.py), trained the way the
CLI trains it (`train_self_supervised`, the CLI's split and default validation fraction), and
the same recipe without it (strength 0, the recipe before this stop), same seeds.

usage: within_class_recipe.py OUT_DIR PRESET:SPLIT:SEED:STRENGTH ...
Scores: inductive + transductive on 2,000 (quick) or 10,000 (paper) 3-way episodes of the
split's test classes, episode seed 0; pairs with the CLI's `evaluate` (threshold chosen on
validation pairs of the training classes).
"""

import json, subprocess, sys, time
from dataclasses import replace

from common import DATA, SPLITS, append, both_protocols
from oneshot_steel.config import recipe
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.embedding import embed
from oneshot_steel.train import load_checkpoint, train_self_supervised

out = sys.argv[1]
imgs = load_neu(DATA, size=200)
for token in sys.argv[2:]:
    preset, split_name, seed, strength = token.split(":")
    seed, strength = int(seed), float(strength)
    train_classes, test_classes = SPLITS[split_name]
    sp = one_shot_split(imgs, train_classes, test_classes, 0.2, seed)
    cfg = replace(recipe("best").config(preset), seed=seed, within_class_whitening=strength)
    run = f"{out}/{preset}/{split_name}/w{strength:g}/seed{seed}"
    t0 = time.perf_counter()
    history = train_self_supervised(cfg, sp.train, sp.val, run, progress=False)
    row = {"preset": preset, "split": split_name, "seed": seed, "strength": strength}
    row["train_s"] = round(time.perf_counter() - t0, 1)
    row["best_epoch"] = history.get("best_epoch")
    net = load_checkpoint(run, weights="best")[0].eval()  # finishes its own features
    episodes = 10000 if preset == "paper" else 2000
    row |= both_protocols(embed(net, sp.test), sp.test, episodes)
    if split_name == "main":
        cli = [sys.executable, "-m", "oneshot_steel", "evaluate", "--checkpoint", run]
        cli += ["--data", DATA, "--classes", ",".join(test_classes), "--episodes", "100", "--json"]
        pv = json.loads(subprocess.run(cli, check=True, capture_output=True, text=True).stdout)
        row["evaluate"] = pv
    append(f"{out}/results.jsonl", row)
