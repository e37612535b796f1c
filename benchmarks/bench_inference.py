"""One-shot inference: a query against cached support embeddings vs paper-style pair scoring.

On the CPU the benchmark uses 2 threads (``torch.set_num_threads(2)``), the budget of a small
inspection PC. It measures, for the paper's model on 100x100 images:

1. batch-1 latency of classifying one query in a 3-way 1-shot task: embed the query once,
   compare it with the CACHED support embeddings (target < 2 ms), in fp32 and with int8
   dynamic quantisation of the linear layers (``torch.ao.quantization.quantize_dynamic``),
   whose effect on episodic accuracy is measured on the unseen classes;
2. the paper-style alternative: every comparison runs both images through the network
   (:func:`paper_style.paper_style_compare`; the paper quotes 11.2 ms per sample), for one
   comparison and for one query (3 comparisons) -- the ratio target is >= 5x;
3. batched fp32 embedding throughput (target >= 400 images/s).

A trained model is needed for the accuracy comparison: ``--checkpoint`` or, by default, the
paper model trained with the ``quick`` preset (cached in the package cache folder).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import benchmark_data_root, hardware, resolve_device, time_call  # noqa: E402
from paper_style import load_pil, paper_style_compare  # noqa: E402

from oneshot_steel.augment import to_model_input  # noqa: E402
from oneshot_steel.data import load_neu  # noqa: E402
from oneshot_steel.data.splits import one_shot_split  # noqa: E402
from oneshot_steel.evaluate import embed, episodic_accuracy  # noqa: E402
from oneshot_steel.files import cache_dir  # noqa: E402
from oneshot_steel.models import build_model  # noqa: E402
from oneshot_steel.train import TrainConfig, load_checkpoint, train_or_load  # noqa: E402

N_WAY = 3


def trained_model(split, checkpoint: Path | None, quick: bool, device: torch.device) -> nn.Module:
    """The model to time: a given checkpoint, else the cached ``quick``-preset paper model."""
    if checkpoint is not None:
        return load_checkpoint(checkpoint, "cpu")[0]
    config = TrainConfig.preset("quick")
    if quick:
        config = replace(config, epochs=2, pairs_per_epoch=320)
    tag = "synthetic" if split.train.synthetic else "neu"
    out = cache_dir() / "bench" / f"paper-{tag}-e{config.epochs}-p{config.pairs_per_epoch}"
    return train_or_load(config, split.train, split.val, out, device=device, progress=False).cpu()


def query_latency(
    net: nn.Module,
    query: torch.Tensor,
    support_emb: torch.Tensor,
    device: torch.device,
    repeats: int,
) -> dict[str, float]:
    """Classify one uint8 query ``[1, 1, S, S]`` against cached support embeddings."""

    @torch.inference_mode()
    def classify() -> int:
        e = net(to_model_input(query.to(device)))
        return int(torch.cdist(e, support_emb).argmin())

    return time_call(classify, device, warmup=20, repeats=repeats)


def run(
    device: torch.device,
    quick: bool,
    data: str | None = None,
    checkpoint: Path | None = None,
    threads: int = 2,
) -> dict:
    if device.type == "cpu":
        torch.set_num_threads(threads)
    root = benchmark_data_root(data)
    split = one_shot_split(load_neu(root, size=100), seed=0)
    test = split.test
    print(
        f"inference benchmark on {device} ({test.source}); training/loading the model...",
        file=sys.stderr,
    )
    net = trained_model(split, checkpoint, quick, device).eval()
    repeats = 50 if quick else 300
    episodes = 500 if quick else 5000

    # Support: the first image of each unseen class; query: another image.
    first = [int((test.labels == c).nonzero()[0]) for c in range(N_WAY)]
    query = test.images[first[0] + 1 : first[0] + 2]
    results: dict = {
        "benchmark": "inference",
        "quick": quick,
        "hardware": hardware(device),
        "data": {"source": test.source, "synthetic": test.synthetic, "classes": list(test.classes)},
        "n_way": N_WAY,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
    }
    variants = {"fp32": net.to(device)}
    if device.type == "cpu":  # dynamic int8 kernels exist for the CPU only
        variants["int8_dynamic"] = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(net).cpu(), {nn.Linear}, dtype=torch.qint8
        )
    for name, model in variants.items():
        support_emb = embed(model, test.images[first], device=device, keep_on_device=True)
        lat = query_latency(model, query, support_emb, device, repeats)
        acc = episodic_accuracy(model, test, N_WAY, 1, 15, episodes, seed=0, device=device)
        results[f"query_{name}"] = {
            **lat,
            "median_ms": 1000 * lat["median_s"],
            "episodic_accuracy": acc.mean,
            "episodic_ci95": acc.ci95,
            "episodes": episodes,
        }
        print(
            f"  query {name}: {1000 * lat['median_s']:.3f} ms, 3-way 1-shot {100 * acc.mean:.2f} %",
            file=sys.stderr,
        )
    # The architecture lever: the compact net (0.25 M parameters) has no 160 MB weight matrix
    # to stream from memory per query. Latency only (it does not depend on the weights).
    compact = build_model("compact").to(device).eval()
    support_emb = embed(compact, test.images[first], device=device, keep_on_device=True)
    lat = query_latency(compact, query, support_emb, device, repeats)
    results["query_compact_fp32_latency_only"] = {**lat, "median_ms": 1000 * lat["median_s"]}
    print(f"  query compact fp32: {1000 * lat['median_s']:.3f} ms", file=sys.stderr)
    if "query_int8_dynamic" in results:
        results["int8_accuracy_change_points"] = 100 * (
            results["query_int8_dynamic"]["episodic_accuracy"]
            - results["query_fp32"]["episodic_accuracy"]
        )

    # Paper-style: both images converted and run through the net for every comparison.
    net32 = variants["fp32"]
    pil_query = load_pil(test.paths[first[0] + 1], test.image_size)
    pil_support = [load_pil(test.paths[i], test.image_size) for i in first]
    pair = time_call(
        lambda: paper_style_compare(net32, pil_query, pil_support[0], device),
        device,
        warmup=10,
        repeats=repeats,
    )
    per_query = time_call(
        lambda: [paper_style_compare(net32, pil_query, s, device) for s in pil_support],
        device,
        warmup=5,
        repeats=max(10, repeats // 3),
    )
    results["paper_style_pair"] = {**pair, "median_ms": 1000 * pair["median_s"]}
    results["paper_style_query"] = {**per_query, "median_ms": 1000 * per_query["median_s"]}
    results["speedup_per_query_fp32"] = per_query["median_s"] / results["query_fp32"]["median_s"]
    results["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    if "query_int8_dynamic" in results:
        results["speedup_per_query_int8"] = (
            per_query["median_s"] / results["query_int8_dynamic"]["median_s"]
        )
    print(
        f"  paper-style: {1000 * pair['median_s']:.2f} ms per pair, "
        f"{1000 * per_query['median_s']:.2f} ms per query",
        file=sys.stderr,
    )

    # Batched fp32 throughput over the unseen-class images.
    batch = test.images[: 256 if quick else 900]
    thr = time_call(
        lambda: embed(net32, batch, batch_size=256, device=device),
        device,
        warmup=1,
        repeats=3 if quick else 5,
    )
    results["throughput_fp32"] = {
        **thr,
        "images": len(batch),
        "images_per_s": len(batch) / thr["median_s"],
    }
    print(f"  batched fp32: {len(batch) / thr['median_s']:.0f} images/s", file=sys.stderr)
    results["targets"] = {"query_ms_lt": 2.0, "speedup_ge": 5.0, "images_per_s_ge": 400}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and episodes")
    parser.add_argument(
        "--data",
        default=None,
        help="data folder (default: $ONESHOT_STEEL_DATA, else the default or shared NEU-CLS folder)",
    )
    parser.add_argument("--checkpoint", type=Path, default=None, help="a trained model.pt")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default: 2)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    result = run(resolve_device(args.device), args.quick, args.data, args.checkpoint, args.threads)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
