"""Training throughput, paper preset: our pipeline vs the paper-style pipeline, same run.

Measures, for the paper's model (Fig. 1), batch 32 and 900 pairs per epoch:

1. the fraction of step time our pipeline spends generating pairs and augmenting them
   (target < 5 %), from an instrumented loop built from the package's own pieces
   (``PairSampler``, ``augment_batch``, the model, ``contrastive_loss``, fused Adam),
   synchronising the device between the data part and the compute part;
2. seconds per epoch of four pipelines run alternately step by step, so that a change in
   machine load hits all alike: that loop as the package trains (the precision and memory
   layout of ``precision.autocast_settings``: bf16 + channels_last on a CPU with native
   bf16; on a CPU also ``runtime.keep_freed_memory``), the same loop with glibc's default
   allocator (the trainer of 2026-12-02), the same loop in plain float32 NCHW with the
   default allocator (the trainer before both), and the paper-style pipeline
   (:mod:`paper_style`); and the ratios. The allocator setting is process-wide, so it is
   switched before each pipeline's step; in one process the "default" pipelines partly reuse
   the heap that the package's pipeline grew (and glibc's dynamic mmap threshold is off after
   any ``mallopt`` call), so their ratio to ours understates the allocator's gain:
   ``bench_allocator.py`` measures it in separate processes;
3. for reference, seconds per epoch of the real ``train_siamese`` (its per-epoch
   ``history["seconds"]``, which excludes checkpoint writing): it should match item 2.

Run: ``python benchmarks/bench_training.py [--device cpu|cuda] [--quick] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import benchmark_data_root, hardware, resolve_device, sync  # noqa: E402
from paper_style import PaperStylePairs, paper_style_loader, paper_style_step  # noqa: E402

from oneshot_steel.augment import augment_batch  # noqa: E402
from oneshot_steel.data import load_neu  # noqa: E402
from oneshot_steel.data.splits import one_shot_split  # noqa: E402
from oneshot_steel.losses import contrastive_loss, euclidean_distance  # noqa: E402
from oneshot_steel.models import build_model  # noqa: E402
from oneshot_steel.precision import AutocastSettings, autocast_settings  # noqa: E402
from oneshot_steel.runtime import keep_freed_memory  # noqa: E402
from oneshot_steel.sampling import PairSampler  # noqa: E402
from oneshot_steel.train import TrainConfig, fused_adam, train_siamese  # noqa: E402

AMP_NOTE = (
    "ours: precision.autocast_settings (bf16/fp16 on CUDA; bf16 + channels_last on a CPU with "
    "native bf16, fp32 + channels_last on other CPUs) and, on a CPU, runtime.keep_freed_memory; "
    "ours_default_malloc: the same with glibc's default allocator; ours_fp32: float32 NCHW, "
    "default allocator; paper-style: fp32, default allocator"
)
FP32_NCHW = AutocastSettings(False, None, False, "float32 NCHW: the trainer before bf16 on CPUs")


def load_data(data: str | None):
    """The training classes of the one-shot split (real NEU-CLS when present)."""
    root = benchmark_data_root(data)
    return one_shot_split(load_neu(root, size=100), seed=0).train


class Ours:
    """Our training step, built from the package's pieces.

    Each step is timed in two parts, with a device sync between them: data (the epoch's pairs,
    the uint8 gather and the batched augmentation) and compute (forward, loss, backward, Adam).
    """

    def __init__(
        self,
        train_set,
        config: TrainConfig,
        device: torch.device,
        amp: AutocastSettings | None = None,
        keep_memory: bool | None = True,
    ):
        self.config, self.device, self.keep_memory = config, device, keep_memory
        self.amp = amp or autocast_settings(device, config.amp)
        self.net = build_model(
            "paper", image_size=train_set.image_size, embedding_dim=config.embedding_dim
        ).to(device, memory_format=self.amp.memory_format)
        self.opt = fused_adam(self.net, config.lr, config.betas)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp.use_grad_scaler)
        self.images, labels = train_set.images.to(device), train_set.labels.to(device)
        self.sampler = PairSampler(labels, config.pairs_per_epoch, config.p_same, config.seed)

    def steps(self, epoch: int) -> Iterator[tuple[float, float]]:
        """One epoch; yields ``(step seconds, data seconds)`` after every step."""
        c, dev, amp = self.config, self.device, self.amp
        self.net.train()
        gen = torch.Generator(device=dev).manual_seed(epoch)
        sync(dev)
        t0 = time.perf_counter()
        i1, i2, same = self.sampler.sample_epoch(epoch)  # counted in the first step
        for s in range(0, len(same), c.batch_size):
            if self.keep_memory is not None:  # None: leave the process's allocator alone
                keep_freed_memory(self.keep_memory and dev.type == "cpu")
            b1, b2 = i1[s : s + c.batch_size], i2[s : s + c.batch_size]
            x = augment_batch(torch.cat([self.images[b1], self.images[b2]]), gen)
            x = x.contiguous(memory_format=amp.memory_format)
            sync(dev)
            t1 = time.perf_counter()
            with torch.autocast(dev.type, dtype=amp.dtype, enabled=amp.enabled):
                e1, e2 = self.net(x).float().chunk(2)
            loss = contrastive_loss(
                euclidean_distance(e1, e2), same[s : s + c.batch_size], c.margin
            )
            self.opt.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
            sync(dev)
            t2 = time.perf_counter()
            yield t2 - t0, t1 - t0
            sync(dev)
            t0 = time.perf_counter()


class PaperStyle:
    """The paper-style pipeline (:mod:`paper_style`), timed the same way."""

    def __init__(self, train_set, config: TrainConfig, device: torch.device):
        self.train_set, self.config, self.device = train_set, config, device
        self.net = build_model(
            "paper", image_size=train_set.image_size, embedding_dim=config.embedding_dim
        ).to(device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=config.lr, betas=config.betas)

    def steps(self, epoch: int) -> Iterator[tuple[float, float]]:
        """One epoch; yields ``(step seconds, data seconds)`` after every step."""
        t, c, dev = self.train_set, self.config, self.device
        self.net.train()
        ds = PaperStylePairs(t.paths, t.labels.tolist(), c.pairs_per_epoch, t.image_size, epoch)
        loader = paper_style_loader(ds, c.batch_size)
        sync(dev)
        t0 = time.perf_counter()
        for x1, x2, same in loader:  # the loader builds the batch before the loop body runs
            keep_freed_memory(False)
            x1, x2, same = x1.to(dev), x2.to(dev), same.to(dev)
            sync(dev)
            t1 = time.perf_counter()
            paper_style_step(self.net, self.opt, x1, x2, same, c.margin)
            sync(dev)
            yield time.perf_counter() - t0, t1 - t0
            sync(dev)
            t0 = time.perf_counter()


def interleaved(train_set, config: TrainConfig, device: torch.device, epochs: int) -> dict:
    """Alternate single steps of the four pipelines, so load changes hit all alike.

    Round 0 (one epoch of each) is a warm-up and is not counted. Seconds per epoch are the
    sums of the step times of each counted epoch; each ratio is also given as the median of
    per-step ratios, which pairs each of our steps with the other pipeline's step next to it.
    """
    pipes = {
        "ours": Ours(train_set, config, device),
        "ours_default_malloc": Ours(train_set, config, device, keep_memory=False),
        "ours_fp32": Ours(train_set, config, device, FP32_NCHW, keep_memory=False),
        "paper_style": PaperStyle(train_set, config, device),
    }
    epoch_s = {k: [] for k in pipes}
    data_s = dict.fromkeys(pipes, 0.0)
    ratios: dict[str, list[float]] = {k: [] for k in pipes if k != "ours"}
    for epoch in range(epochs + 1):
        steps = {k: [] for k in pipes}
        for row in zip(*(p.steps(epoch) for p in pipes.values()), strict=True):
            for k, step in zip(pipes, row, strict=True):
                steps[k].append(step)
        totals = {k: sum(x for x, _ in v) for k, v in steps.items()}
        print(
            f"  round {epoch}: " + ", ".join(f"{k} {t:.2f} s" for k, t in totals.items()),
            file=sys.stderr,
        )
        if epoch == 0:
            continue
        for k in pipes:
            epoch_s[k].append(totals[k])
            data_s[k] += sum(d for _, d in steps[k])
        for k in ratios:
            ratios[k] += [o[0] / n[0] for n, o in zip(steps["ours"], steps[k], strict=True)]
    out = {
        k: {
            "epoch_s_median": statistics.median(epoch_s[k]),
            "epoch_s": epoch_s[k],
            "data_fraction": data_s[k] / sum(epoch_s[k]),
        }
        for k in pipes
    }
    out["ours"]["precision"] = pipes["ours"].amp.precision
    out["ours"]["channels_last"] = pipes["ours"].amp.channels_last
    out["ours"]["reason"] = pipes["ours"].amp.reason
    out["step_ratio_median"] = statistics.median(ratios["paper_style"])
    out["step_ratio_vs_fp32_median"] = statistics.median(ratios["ours_fp32"])
    out["step_ratio_vs_default_malloc_median"] = statistics.median(ratios["ours_default_malloc"])
    return out  # fmt: skip


def package_epochs(train_set, config: TrainConfig, device: torch.device, epochs: int) -> dict:
    """Seconds per epoch of the real ``train_siamese`` (first epoch = warm-up, dropped)."""
    with tempfile.TemporaryDirectory() as tmp:
        history = train_siamese(
            replace(config, epochs=epochs + 1), train_set, None, tmp, device=device, progress=False
        )
    return {
        "epoch_s_median": statistics.median(history["seconds"][1:]),
        "epoch_s": history["seconds"],
        "precision": history.get("precision"),
    }


def run(device: torch.device, quick: bool, data: str | None = None) -> dict:
    """All three measurements; ``quick`` shortens epochs (fewer pairs) and repeats."""
    if device.type == "cpu":
        torch.set_num_threads(min(2, torch.get_num_threads()))
    machine = hardware(device)  # load average at the start
    train_set = load_data(data)
    config = TrainConfig.preset("paper")
    if quick:
        config = replace(config, pairs_per_epoch=160)
    epochs = 1 if quick else 3
    print(
        f"training benchmark on {device} ({train_set.source}, {len(train_set)} images, "
        f"{config.pairs_per_epoch} pairs/epoch, {epochs} timed epochs)",
        file=sys.stderr,
    )
    pair = interleaved(train_set, config, device, epochs)
    ours, paper, fp32 = pair["ours"], pair["paper_style"], pair["ours_fp32"]
    freeing = pair["ours_default_malloc"]
    print(f"  ours: data fraction {100 * ours['data_fraction']:.2f} %", file=sys.stderr)
    print(
        f"  ours ({ours['reason']}) vs float32 NCHW: "
        f"{fp32['epoch_s_median'] / ours['epoch_s_median']:.2f}x per epoch",
        file=sys.stderr,
    )
    print(
        f"  ours vs the same with glibc's default allocator: "
        f"{freeing['epoch_s_median'] / ours['epoch_s_median']:.2f}x per epoch",
        file=sys.stderr,
    )
    package = package_epochs(train_set, config, device, 1 if quick else 2)
    print(f"  train_siamese itself: {package['epoch_s_median']:.2f} s/epoch", file=sys.stderr)
    return {
        "benchmark": "training",
        "quick": quick,
        "hardware": machine,
        "load_average_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "data": {
            "source": train_set.source,
            "synthetic": train_set.synthetic,
            "n_train_images": len(train_set),
            "image_size": train_set.image_size,
        },
        "config": {
            "model": "paper",
            "batch_size": config.batch_size,
            "pairs_per_epoch": config.pairs_per_epoch,
        },
        "precision": AMP_NOTE,
        "ours": ours,
        "ours_default_malloc": freeing,
        "ours_fp32": fp32,
        "paper_style": paper,
        "ours_train_siamese": package,
        "epoch_speedup": paper["epoch_s_median"] / ours["epoch_s_median"],
        "step_speedup_median": pair["step_ratio_median"],
        "epoch_speedup_vs_fp32": fp32["epoch_s_median"] / ours["epoch_s_median"],
        "step_speedup_vs_fp32_median": pair["step_ratio_vs_fp32_median"],
        "epoch_speedup_vs_default_malloc": freeing["epoch_s_median"] / ours["epoch_s_median"],
        "step_speedup_vs_default_malloc_median": pair["step_ratio_vs_default_malloc_median"],
        "paper_preset_estimate_min": {
            k: v["epoch_s_median"]
            * TrainConfig.preset("paper").epochs
            * TrainConfig.preset("paper").pairs_per_epoch
            / config.pairs_per_epoch
            / 60
            for k, v in (
                ("ours", ours),
                ("ours_default_malloc", freeing),
                ("ours_fp32", fp32),
                ("paper_style", paper),
            )
        },
        "targets": {"data_fraction_lt": 0.05},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--quick", action="store_true", help="short epochs, one repeat")
    parser.add_argument(
        "--data",
        default=None,
        help="data folder (default: $ONESHOT_STEEL_DATA, else the default or shared NEU-CLS folder)",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    result = run(resolve_device(args.device), args.quick, args.data)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
