"""Training throughput, paper preset: our pipeline vs the paper-style pipeline, same run.

Measures, for the paper's model (Fig. 1), batch 32 and 900 pairs per epoch:

1. the fraction of step time our pipeline spends generating pairs and augmenting them
   (target < 5 %), from an instrumented loop built from the package's own pieces
   (``PairSampler``, ``augment_batch``, the model, ``contrastive_loss``), synchronising the
   device between the data part and the compute part;
2. seconds per epoch of the real ``train_siamese`` (its per-epoch ``history["seconds"]``,
   which excludes checkpoint writing), and of the paper-style pipeline in
   :mod:`paper_style`; and their ratio.

Run: ``python benchmarks/bench_training.py [--device cpu|cuda] [--quick] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import hardware, resolve_device, sync  # noqa: E402
from paper_style import PaperStylePairs, paper_style_loader, paper_style_step  # noqa: E402

from oneshot_steel.augment import augment_batch  # noqa: E402
from oneshot_steel.data.loading import load_neu  # noqa: E402
from oneshot_steel.data.splits import one_shot_split  # noqa: E402
from oneshot_steel.losses import contrastive_loss, euclidean_distance  # noqa: E402
from oneshot_steel.models import build_model  # noqa: E402
from oneshot_steel.sampling import PairSampler  # noqa: E402
from oneshot_steel.train import TrainConfig, autocast_settings, train_siamese  # noqa: E402

REAL_DATA = Path("/work/shared/data/neu-cls")


def load_data(data: str | None):
    """The training classes of the one-shot split (real NEU-CLS when present)."""
    root = data or (str(REAL_DATA) if REAL_DATA.is_dir() else "synthetic")
    return one_shot_split(load_neu(root, size=100), seed=0).train


def instrumented_epochs(
    train_set, config: TrainConfig, device: torch.device, epochs: int
) -> dict[str, float]:
    """Our step, split into data (pairs + gather + augmentation) and compute, synced."""
    net = build_model("paper", image_size=train_set.image_size, embedding_dim=config.embedding_dim)
    net.to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, betas=config.betas)
    amp = autocast_settings(device, config.amp)
    scaler = torch.amp.GradScaler(device.type, enabled=amp.use_grad_scaler)
    images, labels = train_set.images.to(device), train_set.labels.to(device)
    sampler = PairSampler(labels, config.pairs_per_epoch, config.p_same, config.seed)
    data_s, total_s, epoch_s = 0.0, 0.0, []
    for epoch in range(epochs + 1):  # epoch 0 is the warm-up, not counted
        gen = torch.Generator(device=device).manual_seed(epoch)
        sync(device)
        t_epoch = time.perf_counter()
        t0 = time.perf_counter()
        i1, i2, same = sampler.sample_epoch(epoch)
        sync(device)
        d = time.perf_counter() - t0
        for s in range(0, len(same), config.batch_size):
            t0 = time.perf_counter()
            b1, b2 = i1[s : s + config.batch_size], i2[s : s + config.batch_size]
            x = augment_batch(torch.cat([images[b1], images[b2]]), gen)
            sync(device)
            t1 = time.perf_counter()
            with torch.autocast(device.type, dtype=amp.dtype, enabled=amp.enabled):
                e1, e2 = net(x).float().chunk(2)
            loss = contrastive_loss(
                euclidean_distance(e1, e2), same[s : s + config.batch_size], config.margin
            )
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sync(device)
            d += t1 - t0
        if epoch > 0:
            elapsed = time.perf_counter() - t_epoch
            data_s, total_s = data_s + d, total_s + elapsed
            epoch_s.append(elapsed)
    return {
        "data_fraction": data_s / total_s,
        "epoch_s_median": statistics.median(epoch_s),
        "epochs_timed": epochs,
        "precision": amp.precision,
    }


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


def paper_style_epochs(train_set, config: TrainConfig, device: torch.device, epochs: int) -> dict:
    """Seconds per epoch of the paper-style DataLoader pipeline, and its data fraction."""
    net = build_model("paper", image_size=train_set.image_size, embedding_dim=config.embedding_dim)
    net.to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, betas=config.betas)
    epoch_s, data_s, total_s = [], 0.0, 0.0
    for epoch in range(epochs + 1):
        ds = PaperStylePairs(
            train_set.paths,
            train_set.labels.tolist(),
            config.pairs_per_epoch,
            train_set.image_size,
            seed=epoch,
        )
        it = iter(paper_style_loader(ds, config.batch_size))
        sync(device)
        t_epoch, d = time.perf_counter(), 0.0
        while True:
            t0 = time.perf_counter()
            try:
                x1, x2, same = next(it)
            except StopIteration:
                break
            x1, x2, same = x1.to(device), x2.to(device), same.to(device)
            sync(device)
            d += time.perf_counter() - t0
            paper_style_step(net, opt, x1, x2, same, config.margin)
            sync(device)
        if epoch > 0:
            elapsed = time.perf_counter() - t_epoch
            epoch_s.append(elapsed)
            data_s, total_s = data_s + d, total_s + elapsed
    return {
        "epoch_s_median": statistics.median(epoch_s),
        "data_fraction": data_s / total_s,
        "epochs_timed": epochs,
        "precision": "fp32",
    }


def run(device: torch.device, quick: bool, data: str | None = None) -> dict:
    """All three measurements; ``quick`` shortens epochs (fewer pairs) and repeats."""
    if device.type == "cpu":
        torch.set_num_threads(min(2, torch.get_num_threads()))
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
    ours = instrumented_epochs(train_set, config, device, epochs)
    print(
        f"  ours (instrumented): data fraction {100 * ours['data_fraction']:.2f} %", file=sys.stderr
    )
    package = package_epochs(train_set, config, device, epochs)
    print(f"  ours (train_siamese): {package['epoch_s_median']:.2f} s/epoch", file=sys.stderr)
    paper = paper_style_epochs(train_set, config, device, epochs)
    print(f"  paper-style: {paper['epoch_s_median']:.2f} s/epoch", file=sys.stderr)
    return {
        "benchmark": "training",
        "quick": quick,
        "hardware": hardware(device),
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
        "ours_instrumented": ours,
        "ours_train_siamese": package,
        "paper_style": paper,
        "epoch_speedup": paper["epoch_s_median"] / package["epoch_s_median"],
        "targets": {"data_fraction_lt": 0.05},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--quick", action="store_true", help="short epochs, one repeat")
    parser.add_argument(
        "--data", default=None, help="data folder (default: real NEU-CLS if present)"
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
