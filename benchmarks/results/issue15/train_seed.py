# ruff: noqa
# Issue 15: trains seeds 1 and 2 of the ch08 recipe (record; see explore.py).
import sys

sys.path.insert(0, "/work/wt-issue-15/src")
sys.argv = [sys.argv[0]] + sys.argv[1:]
import torch

torch.set_num_threads(2)
from dataclasses import replace
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.train import TrainConfig, _fit
from oneshot_steel.tasks import SelfSupervisedTask

seed = int(sys.argv[1])
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
    seed=seed,
)
data = load_neu("/work/shared/data/neu-cls", size=200)
sp = one_shot_split(data, ["RS", "Pa", "In"], ["Cr", "PS", "Sc"], seed=seed)
_fit(
    SelfSupervisedTask,
    base,
    sp.train,
    sp.val,
    f"/work/wt-issue-15/_build/exp/seed{seed}/main",
    None,
    True,
    False,
)
print("done", seed)
