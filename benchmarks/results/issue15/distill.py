# ruff: noqa
# Exploration script of issue 15 (part 2, latency), kept as the record of how its rows were
# made; not a maintained benchmark. Run from the repository root with the package installed:
#   python benchmarks/results/issue15/distill.py --teacher RUN --width 16 --size 100 --out FILE
"""Distil the recipe `best` (compact net, width 32, 200 px input) into a smaller student.

The student sees the image at `--size` px (area-shrunk, as deployment would feed it) and learns
to output the teacher's SimpleShot feature of the same image at 200 px (MSE). Training images:
the 8 dihedral views of the RS/Pa/In training images of the teacher's own split (no test-class
image), teacher features computed once (with --centred-loss the student's feature is first
centred by an EMA of its batch means and scaled to unit length, like the teacher's); a brightness offset (+-10 grey levels, the paper's
augmentation) is drawn per step for the student. After training, the student's SimpleShot mean
is the mean of its raw features on the training images, as `best` stores its own.

Scored exactly like bench_best.py: 3-way episodes of Cr/PS/Sc, 15 queries per class, episode
seed 0; latency of one uint8 query against 3 cached supports, 2 threads, interleaved calls.
"""

import argparse, json, statistics, sys, time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from _timing import hardware
from bench_best import compare_ways, shrink

from oneshot_steel.augment import to_model_input
from oneshot_steel.checkpoint import read_checkpoint
from oneshot_steel.data import load_neu
from oneshot_steel.data.splits import one_shot_split
from oneshot_steel.deploy import optimise_for_cpu
from oneshot_steel.evaluate import embed, episodic_accuracy
from oneshot_steel.models import CompactEmbeddingNet
from oneshot_steel.precision import autocast_settings
from oneshot_steel.train import load_checkpoint


def dihedral(images):
    """All 8 rotations/flips of a batch [N, 1, S, S] -> [8N, 1, S, S] (view-major)."""
    views = []
    for flipped in (images, images.flip(-1)):
        views += [torch.rot90(flipped, k, dims=(2, 3)) for k in range(4)]
    return torch.cat(views)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--teacher", type=Path, required=True)
    p.add_argument("--data", default="/work/shared/data/neu-cls")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--size", type=int, default=100)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--episodes", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=100)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--init-from-teacher",
        action="store_true",
        help="start from the teacher's weights (needs --width equal to the teacher's)",
    )
    p.add_argument(
        "--centred-loss",
        action="store_true",
        help="loss on the student's own centred, unit-length feature (an EMA of its batch "
        "means stands in for its SimpleShot mean) instead of its raw feature",
    )
    p.add_argument(
        "--targets-cache",
        type=Path,
        default=None,
        help="file to keep the teacher's features in between runs",
    )
    args = p.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)

    meta = read_checkpoint(args.teacher, mmap=True)
    tsize = meta["data"]["train"]["image_size"]
    train_classes, split_seed = meta["data"]["train"]["classes"], meta["config"]["seed"]
    del meta
    teacher = load_checkpoint(args.teacher, "cpu")[0].eval()
    data = load_neu(args.data, size=tsize)
    test_classes = [c for c in data.classes if c not in train_classes]
    split = one_shot_split(data, train_classes, test_classes, seed=split_seed)

    t0 = time.perf_counter()
    views = dihedral(split.train.images)  # uint8, teacher size
    if args.targets_cache and args.targets_cache.exists():
        targets = torch.load(args.targets_cache, weights_only=True)
    else:
        targets = embed(teacher, views)  # [8N, D] centred, unit length
        if args.targets_cache:
            torch.save(targets, args.targets_cache)
    small = shrink(views, args.size)
    teacher_s = time.perf_counter() - t0

    student = CompactEmbeddingNet(embedding_dim=targets.shape[1], width=args.width, centre=True)
    if args.init_from_teacher:
        student.load_state_dict(teacher.state_dict())
    amp = autocast_settings(torch.device("cpu"))  # bf16 + channels_last where the CPU has bf16
    if amp.channels_last:
        student.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(student.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.steps)
    gen = torch.Generator().manual_seed(args.seed)
    student.train()
    ema_mean = None
    t0 = time.perf_counter()
    for step in range(args.steps):
        idx = torch.randint(len(small), (args.batch,), generator=gen)
        beta = (torch.rand(args.batch, 1, 1, 1, generator=gen) * 2 - 1) * 10
        x = ((small[idx].float() + beta).clamp(0, 255) / 127.5 - 1).contiguous(
            memory_format=torch.channels_last
        )
        with torch.autocast("cpu", dtype=amp.dtype, enabled=amp.enabled):
            out = student.raw(x)
        if args.centred_loss:
            out = out.float()
            batch_mean = out.detach().mean(0)
            ema_mean = batch_mean if ema_mean is None else 0.99 * ema_mean + 0.01 * batch_mean
            out = F.normalize(out - ema_mean, dim=1)
        loss = (out.float() - targets[idx]).pow(2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item():.4f}", flush=True)
    train_s = time.perf_counter() - t0
    student.eval()
    with torch.no_grad():
        raw = torch.cat(
            [
                student.raw(to_model_input(c))
                for c in shrink(split.train.images, args.size).split(256)
            ]
        )
        student.base_mean.copy_(raw.mean(0))

    ways = {
        "teacher fp32 eager": (teacher, tsize),
        "teacher optimised": (optimise_for_cpu(teacher, tsize), tsize),
        f"student w{args.width}{' from teacher' if args.init_from_teacher else ''}{' centred loss' if args.centred_loss else ''} optimised": (
            optimise_for_cpu(student, args.size),
            args.size,
        ),
    }
    rows = compare_ways(ways, split.test, tsize, args.episodes, args.repeats, "teacher")
    result = {
        "hardware": hardware(torch.device("cpu")),
        "teacher": str(args.teacher),
        "args": {k: str(v) for k, v in vars(args).items()},
        "teacher_features_s": teacher_s,
        "student_train_s": train_s,
        "student_params": sum(p.numel() for p in student.parameters()),
        "student_precision": amp.reason,
        "ways": rows,
    }
    result["hardware"]["load_average_at_end"] = list(__import__("os").getloadavg())
    args.out.write_text(json.dumps(result, indent=1))
    torch.save(student.state_dict(), args.out.with_suffix(".pt"))


if __name__ == "__main__":
    main()
