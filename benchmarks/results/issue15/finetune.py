# ruff: noqa
# Exploration script of issue 15 (stop 33), kept as the record of how finetune.jsonl was
# made; not a maintained benchmark.
"""Issue 15, stop 33: the self-supervised and the supervised objective in sequence.

Mixing SupCon into NT-Xent lost (2026-12-02). Here the recipe trains as usual (NT-Xent on
windows, quick length), THEN the prototypical loss on labelled episodes of the training
classes fine-tunes it briefly at a lower learning rate: the labels may sharpen what NT-Xent
learned without having to build the feature from three classes alone.

- ``ft``: 2 epochs x 50 steps of 3-way 5-shot, 10-query episodes of 64 px windows (the
  recipe's augmentation), learning rate 1e-4 (the recipe's is 1e-3), epoch chosen by
  validation accuracy on episodes of the fine-tuning's shape (3-way 5-shot, 10 queries).

- ``sslcont`` (the control): the same 2 x 50 steps at 1e-4 from the same start, but NT-Xent
  again instead of the labelled episodes: what the extra steps alone give.

usage: finetune.py VARIANT:SPLIT:SEED ...   (VARIANT: base | ft | sslcont)
"""

import os, sys, time
from dataclasses import replace

import torch

from common import DATA, RECIPE_QUICK, SPLITS, append, best_and_last, score
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.tasks import EpisodeTask, SelfSupervisedTask
import oneshot_steel.train as T
from oneshot_steel.train import _fit, load_checkpoint

OUT = os.environ.get("FINETUNE_OUT", "/work/scratch/s33/ft")
FT = dict(lr=1e-4, epochs=2, episodes_per_epoch=50, k_shot=5, n_query=10)

if __name__ == "__main__":
    torch.set_num_threads(2)
    imgs = load_neu(DATA, size=200)
    orig_build = T.build_from_spec
    for token in sys.argv[1:]:
        name, split_name, seed = token.split(":")
        cfg = replace(RECIPE_QUICK, seed=int(seed))
        sp = one_shot_split(imgs, *SPLITS[split_name], seed=cfg.seed)
        ssl_run = f"{OUT}/base/{split_name}/seed{seed}"
        t0 = time.perf_counter()
        T.build_from_spec = orig_build
        _fit(SelfSupervisedTask, cfg, sp.train, sp.val, ssl_run, None, True, False)
        run = ssl_run
        if name in ("ft", "sslcont"):
            start = load_checkpoint(ssl_run, weights="best")[0].state_dict()

            def from_ssl(spec, _start=start):
                net = orig_build(spec)
                net.load_state_dict(_start)
                return net

            T.build_from_spec = from_ssl
            run = f"{OUT}/{name}/{split_name}/seed{seed}"
            task = EpisodeTask if name == "ft" else SelfSupervisedTask
            ft_cfg = (
                replace(cfg, **FT)
                if name == "ft"
                else replace(cfg, **{k: FT[k] for k in ("lr", "epochs", "episodes_per_epoch")})
            )
            _fit(task, ft_cfg, sp.train, sp.val, run, None, True, False)
        row = {"variant": name, "split": split_name, "seed": cfg.seed}
        row["train_s"] = round(time.perf_counter() - t0, 1)
        for suffix, net in best_and_last(run):
            row |= score(net, sp, suffix)
        row["load"] = open("/proc/loadavg").read().split()[0]
        append(f"{OUT}/results.jsonl", row)
