"""The best one-shot model (``train --recipe best``): batch-1 query latency and its speed-ups.

For a trained run of the recipe, on 2 CPU threads, one query image (uint8) is embedded and
compared with CACHED support embeddings of a 3-way task (the deployment case of chapter 10),
for each way of running the same weights:

- ``fp32 eager``: the model as trained, what chapter 8 measured (today's best model);
- ``optimised``: :func:`oneshot_steel.deploy.optimise_for_cpu` (BatchNorm folded, frozen
  TorchScript, channels_last), the same arithmetic up to rounding;
- ``optimised, half size``: the same, on images shrunk to half the side (4x fewer pixels);
- ``int8 static``: :func:`oneshot_steel.deploy.quantize_static_int8`, weights and
  activations in 8 bits, calibrated on the run's own training images (never test classes);
- with ``--coarse-view``, also ``fp32 + coarse view`` and ``int8 static + coarse view``: the
  net given a second, half-size view (:func:`oneshot_steel.metric.add_coarse_view`, fitted
  on the run's training images), the option that resists a softer camera (chapter 8).

Each way is timed twice, under the same load for every way: *interleaved*, one call of each
way in turn (each call finds the caches filled by another net: a line that also runs other
work), and *back to back*, blocks of consecutive calls of one way, the blocks of the ways in
turn (the caches hold this net's weights: a line that does nothing but answer queries). The
ratios against ``fp32 eager`` are taken within each. Each way's 3-way 1-shot and 5-shot accuracy on the
unseen classes (the same seeded episodes) gives the accuracy cost of each speed-up.

    python benchmarks/bench_best.py --checkpoint RUN [--data PATH] [--episodes N] [--out FILE]
        [--coarse-view]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import hardware  # noqa: E402

from oneshot_steel.augment import to_model_input  # noqa: E402
from oneshot_steel.checkpoint import read_checkpoint  # noqa: E402
from oneshot_steel.data import load_neu  # noqa: E402
from oneshot_steel.data.imageset import ImageSet  # noqa: E402
from oneshot_steel.data.splits import one_shot_split  # noqa: E402
from oneshot_steel.deploy import optimise_for_cpu, quantize_static_int8  # noqa: E402
from oneshot_steel.evaluate import embed, episodic_accuracy  # noqa: E402
from oneshot_steel.metric import add_coarse_view  # noqa: E402
from oneshot_steel.train import load_checkpoint  # noqa: E402


def shrink(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 images ``[N, 1, S, S]`` resized to ``size`` by area averaging."""
    return F.interpolate(images.float(), size=size, mode="area").round().to(torch.uint8)


def interleaved_times(
    calls: dict[str, Callable[[], object]], repeats: int, warmup: int = 10
) -> dict[str, list[float]]:
    """Seconds of each call, ``repeats`` times, one call of each in turn (so that the ratios
    between them are measured under the same load), after ``warmup`` calls of each."""
    times: dict[str, list[float]] = {n: [] for n in calls}
    with torch.inference_mode():
        for fn in calls.values():
            for _ in range(warmup):
                fn()
        for _ in range(repeats):
            for name, fn in calls.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    return times


def back_to_back_times(
    calls: dict[str, Callable[[], object]], rounds: int, block: int = 20
) -> dict[str, list[float]]:
    """Seconds of each call made straight after another call of the same way: ``rounds``
    blocks of ``block`` consecutive calls per way, the ways' blocks in turn (so that every way
    sees the same load), the first call of each block left out (it finds another net's data
    in the caches)."""
    times: dict[str, list[float]] = {n: [] for n in calls}
    with torch.inference_mode():
        for _ in range(rounds):
            for name, fn in calls.items():
                fn()
                for _ in range(block - 1):
                    t0 = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t0)
    return times


def compare_ways(
    ways: dict[str, tuple[nn.Module, int]],
    test: ImageSet,
    size: int,
    episodes: int,
    repeats: int,
    reference: str,
) -> dict[str, dict]:
    """Each way (model, input size) scored on the same seeded 3-way episodes of ``test`` (its
    images are ``size`` px, shrunk for smaller ways) and timed on one uint8 query against 3
    cached supports; the first way is the reference of the speed-ups, called ``reference``."""
    calls, rows = {}, {}
    for name, (model, s) in ways.items():
        images = test.images if s == size else shrink(test.images, s)
        emb = embed(model, images)
        rows[name] = {"image_size": s}
        for k in (1, 5):
            r = episodic_accuracy(emb, test, 3, k, 15, episodes, 0)
            rows[name][f"{k}-shot"] = [100 * r.mean, 100 * r.ci95]
        query, support = images[:1], emb[:3]

        def classify(model=model, query=query, support=support) -> int:
            return int(torch.cdist(model(to_model_input(query)), support).argmin())

        calls[name] = classify
    times = interleaved_times(calls, repeats)
    warm = back_to_back_times(calls, rounds=max(1, repeats // 20))
    first = next(iter(ways))
    base, warm_base = statistics.median(times[first]), statistics.median(warm[first])
    for name, row in rows.items():
        ms, warm_ms = statistics.median(times[name]), statistics.median(warm[name])
        row |= {"ms_per_query": 1e3 * ms, "speed_up": base / ms}
        row |= {
            "ms_per_query_back_to_back": 1e3 * warm_ms,
            "speed_up_back_to_back": warm_base / warm_ms,
        }
        row[f"1-shot points vs {reference}"] = row["1-shot"][0] - rows[first]["1-shot"][0]
        print(
            f"{name:30s} {row['image_size']:4d}px  {1e3 * ms:8.2f} ms/query interleaved "
            f"(x{base / ms:5.2f}), {1e3 * warm_ms:8.2f} back to back (x{warm_base / warm_ms:5.2f})  "
            f"1-shot {row['1-shot'][0]:.2f} % ± {row['1-shot'][1]:.2f}  "
            f"5-shot {row['5-shot'][0]:.2f} %"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--data", default="/work/shared/data/neu-cls")
    p.add_argument("--episodes", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--coarse-view", action="store_true", help="also time the coarse view")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    meta = read_checkpoint(args.checkpoint, mmap=True)
    size = meta["data"]["train"]["image_size"]
    train_classes, seed = meta["data"]["train"]["classes"], meta["config"]["seed"]
    del meta
    net, config, _ = load_checkpoint(args.checkpoint, "cpu")
    data = load_neu(args.data, size=size)
    test_classes = [c for c in data.classes if c not in train_classes]
    split = one_shot_split(data, train_classes, test_classes, seed=seed)
    test = split.test
    ways = {
        "fp32 eager": (net, size),
        "optimised": (optimise_for_cpu(net, size), size),
        "optimised, half size": (optimise_for_cpu(net, size // 2), size // 2),
        "int8 static": (quantize_static_int8(net, split.train.images), size),
    }
    if args.coarse_view:
        whitening = config.within_class_whitening or None
        twin = add_coarse_view(net, split.train.images, split.train.labels, whitening)
        ways["fp32 + coarse view"] = (twin, size)
        ways["int8 static + coarse view"] = (quantize_static_int8(twin, split.train.images), size)
    result: dict = {"hardware": hardware(torch.device("cpu")), "checkpoint": str(args.checkpoint)}
    result["protocol"] = (
        f"3-way episodes of {','.join(test_classes)}, 15 queries per class, "
        f"{args.episodes} episodes, seed 0; latency: one uint8 query embedded and compared "
        f"with 3 cached support embeddings, {args.threads} threads, median of {args.repeats} "
        f"interleaved calls and of {max(1, args.repeats // 20) * 19} calls back to back"
    )
    rows = compare_ways(ways, test, size, args.episodes, args.repeats, "fp32")
    result["ways"] = rows
    result["hardware"]["load_average_at_end"] = list(__import__("os").getloadavg())
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
