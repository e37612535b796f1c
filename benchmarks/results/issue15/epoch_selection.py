# ruff: noqa
"""Issue 15 (2026-12-05, stop 31): how well does each way of choosing the epoch pick the
epoch that is best on the unseen classes? The recipe `best` (whitening 10) trained as the CLI
trains it, every epoch's weights kept; per epoch: the test accuracy (what we want) and label-
or label-free criteria computed on the training classes' validation images only.

usage: epoch_selection.py OUT_DIR PRESET:SPLIT:SEED ...
Raw rows (one per epoch) in OUT_DIR/epochs.jsonl.
"""

import copy, json, os, sys, time
from dataclasses import replace

import torch

from common import DATA, SPLITS, append
from oneshot_steel import train as train_mod
from oneshot_steel.config import recipe
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import episodic_accuracy, simpleshot
from oneshot_steel.losses import nt_xent_loss
from oneshot_steel.tasks import SelfSupervisedTask
from oneshot_steel.train import load_checkpoint, train_self_supervised

snapshots = []
_save = train_mod._RunFiles.save


def save_and_keep(self, epoch, net, *args, **kwargs):
    snapshots.append(copy.deepcopy(net.state_dict()))
    return _save(self, epoch, net, *args, **kwargs)


train_mod._RunFiles.save = save_and_keep


def val_ntxent(net, cfg, val, seeds=4):
    """NT-Xent of the validation images' two augmented windows (labels unused), eval mode."""
    task = SelfSupervisedTask(cfg, net, val, None)
    net.eval()
    out = []
    with torch.no_grad():
        for s in range(seeds):
            gen = torch.Generator().manual_seed(1000 + s)
            views = net.raw(task.inputs(torch.cat([task.images, task.images]), gen)).float()
            out.append(float(nt_xent_loss(*views.chunk(2), temperature=cfg.temperature)))
    return sum(out) / len(out)


def acc(features, images, k, episodes):
    r = episodic_accuracy(features, images, 3, k, 15, episodes, 0)
    return round(100 * r.mean, 2)


out = sys.argv[1]
done = set()
if os.path.exists(f"{out}/epochs.jsonl"):
    done = {
        (r["preset"], r["split"], r["seed"]) for r in map(json.loads, open(f"{out}/epochs.jsonl"))
    }
imgs = load_neu(DATA, size=200)
for token in sys.argv[2:]:
    preset, split_name, seed = token.split(":")
    seed = int(seed)
    if (preset, split_name, seed) in done:
        continue
    sp = one_shot_split(imgs, *SPLITS[split_name], 0.2, seed)
    cfg = replace(recipe("best").config(preset), seed=seed)
    run = f"{out}/runs/{preset}/{split_name}/seed{seed}"
    snapshots.clear()
    t0 = time.perf_counter()
    history = train_self_supervised(cfg, sp.train, sp.val, run, progress=False, resume=False)
    train_s = round(time.perf_counter() - t0, 1)
    net = load_checkpoint(run, weights="best")[0].eval()
    for epoch, state in enumerate(snapshots, 1):
        net.load_state_dict(state)
        net.eval()
        row = {
            "preset": preset,
            "split": split_name,
            "seed": seed,
            "epoch": epoch,
            "train_s": train_s,
        }
        row["cli_best"] = history["best_epoch"] == epoch
        row["val_loss"] = history["val_loss"][epoch - 1]
        row["val_acc5"] = history["val_accuracy"][epoch - 1]
        test = embed(net, sp.test)  # with the epoch's SimpleShot mean and metric
        row["test_1shot"], row["test_5shot"] = (
            acc(test, sp.test, 1, 2000),
            acc(test, sp.test, 5, 2000),
        )
        # SimpleShot only (no metric) on the validation images: 1-shot, 2,000 episodes
        net.within_class = False
        val_ss = embed(net, sp.val)
        test_ss = embed(net, sp.test)
        net.within_class = True
        row["test_1shot_ss"] = acc(test_ss, sp.test, 1, 2000)
        row["val_1shot_ss"] = acc(val_ss, sp.val, 1, 2000)
        row["val_ntxent"] = round(val_ntxent(net, cfg, sp.val), 4)
        append(f"{out}/epochs.jsonl", row)
