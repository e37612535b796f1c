# ruff: noqa
# Exploration script of issue 15 (stop 28), kept as the record of how full-length-3seeds.jsonl
# was made; not a maintained benchmark.
"""Issue 15, stop 28: the recipe `best` at full length (the `paper` preset: 10 x 100 steps),
seeds 0-2, trained with the CLI (train-or-load: a stopped run resumes), scored inductively
(SimpleShot) and transductively (soft k-means, beta 5, 3 steps) on the same 10,000 3-way
episodes of Cr/PS/Sc (episode seed 0, 15 queries per class).

usage: full_length.py SEED ...
"""

import subprocess, sys, time

from common import DATA, SPLITS, append, both_protocols
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.embedding import embed
from oneshot_steel.train import load_checkpoint

OUT = "/tmp/s28/full"
PY = sys.executable

imgs = load_neu(DATA, size=200)
for seed in sys.argv[1:]:
    run = f"{OUT}/seed{seed}"
    t0 = time.perf_counter()
    subprocess.run(
        [
            PY,
            "-m",
            "oneshot_steel",
            "train",
            "--recipe",
            "best",
            "--preset",
            "paper",
            "--data",
            DATA,
            "--out",
            run,
            "--seed",
            seed,
        ],
        check=True,
    )
    row = {"recipe": "best", "preset": "paper", "seed": int(seed)}
    row["train_wall_s"] = round(time.perf_counter() - t0, 1)
    sp = one_shot_split(imgs, *SPLITS["main"], seed=int(seed))
    net = load_checkpoint(run, weights="best")[0].eval()  # centres itself (SimpleShot inside)
    row |= both_protocols(embed(net, sp.test), sp.test, 10000)
    append(f"{OUT}/results.jsonl", row)
