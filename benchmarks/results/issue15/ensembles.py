# ruff: noqa
# Exploration record of issue 15 (stop 26): window averaging and the seed ensemble of RESULTS.md.
# Two scripts run separately; paths of the machine they ran on. Not a maintained benchmark.
# --- ens.py: feature-level ensemble of three training seeds
import sys, torch, json

sys.path.insert(0, "/work/main/src")
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.train import load_checkpoint
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot, episodic_accuracy

torch.set_num_threads(2)
imgs = load_neu("/work/shared/data/neu-cls", size=200)
SPLITS = {
    "main": (["RS", "Pa", "In"], ["Cr", "PS", "Sc"]),
    "reverse": (["Cr", "PS", "Sc"], ["RS", "Pa", "In"]),
}
for split in ("reverse", "main"):
    tr, te = SPLITS[split]
    feats = []
    for s, d in ((0, "base"), (1, "seed1"), (2, "seed2")):
        sp = one_shot_split(imgs, tr, te, seed=s)
        net = load_checkpoint(f"/tmp/exp/{d}/{split}", weights="best")[0]
        f = simpleshot(embed(net, sp.test), embed(net, sp.train))
        feats.append(f)
        r1 = episodic_accuracy(f, sp.test, 3, 1, 15, 2000, 0)
        print(split, s, round(100 * r1.mean, 2), flush=True)
    for name, f in (("concat", torch.cat(feats, 1)),):
        for k in (1, 5):
            r = episodic_accuracy(f, sp.test, 3, k, 15, 2000, 0)
            print(split, name, k, round(100 * r.mean, 2), round(100 * r.ci95, 2), flush=True)

# --- win.py (usage: win.py 64 34 reverse,main): SimpleShot features averaged over windows
if False:  # the second script, kept verbatim below as text
    WIN_PY = r"""
import sys, torch, torch.nn.functional as F
sys.path.insert(0, "/work/main/src")
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.train import load_checkpoint
from oneshot_steel.embedding import embed
from oneshot_steel.evaluate import simpleshot, episodic_accuracy
torch.set_num_threads(2)
imgs = load_neu("/work/shared/data/neu-cls", size=200)
SPLITS = {"main": (["RS","Pa","In"], ["Cr","PS","Sc"]), "reverse": (["Cr","PS","Sc"], ["RS","Pa","In"])}
W, S = int(sys.argv[1]), int(sys.argv[2])
def windows(x):  # [N,1,200,200] uint8 -> [N*n, 1, W, W]
    u = x.unfold(2, W, S).unfold(3, W, S)  # N,1,a,b,W,W
    n = u.shape[2]*u.shape[3]
    return u.permute(0,2,3,1,4,5).reshape(-1, 1, W, W), n
for split in sys.argv[3].split(","):
    tr, te = SPLITS[split]
    for s, d in ((0, "base"), (1, "seed1"), (2, "seed2")):
        sp = one_shot_split(imgs, tr, te, seed=s)
        net = load_checkpoint(f"/tmp/exp/{d}/{split}", weights="best")[0]
        wte, n = windows(sp.test.images); wtr, _ = windows(sp.train.images)
        ete, etr = embed(net, wte), embed(net, wtr)
        # (a) mean raw window features, then SimpleShot
        fa = simpleshot(ete.view(-1, n, ete.shape[1]).mean(1), etr.view(-1, n, etr.shape[1]).mean(1))
        # (b) SimpleShot per window (centre = training windows' mean), average, renormalise
        fb = F.normalize(simpleshot(ete, etr).view(-1, n, ete.shape[1]).mean(1), dim=1)
        out = [split, s, W, S, n]
        for f in (fa, fb):
            for k in (1, 5):
                r = episodic_accuracy(f, sp.test, 3, k, 15, 2000, 0)
                out.append(round(100*r.mean, 2))
        print(*out, flush=True)
"""
