"""Comparing one-shot methods fairly (chapter 8): same episodes, same table, seeds and CIs.

A method here is anything that turns images into vectors: a trained network, a frozen
pretrained one, or hand-made texture features. :func:`few_shot_scores` puts each through the
identical 1-shot and 5-shot episodes of :func:`~oneshot_steel.evaluate.episodic_accuracy`,
optionally after :func:`~oneshot_steel.evaluate.simpleshot` feature normalisation;
:func:`run_ablation` trains one setting per row for several seeds, so every bar of an
ablation plot has an error band.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data.imageset import ImageSet
from .deploy import time_inference
from .embedding import embed
from .evaluate import EpisodicResult, episodic_accuracy, simpleshot
from .runs import seed_dir
from .train import TrainConfig, read_history, train_or_load

__all__ = ["MethodResult", "few_shot_scores", "method_result", "run_ablation"]


def few_shot_scores(
    features: torch.Tensor,
    test_set: ImageSet,
    *,
    n_way: int = 3,
    shots: Sequence[int] = (1, 5),
    n_query: int = 15,
    n_episodes: int = 2000,
    seed: int = 0,
) -> dict[int, EpisodicResult]:
    """``{k: N-way k-shot result}`` for features ``[len(test_set), D]`` of the test images.

    Every method scored with the same ``seed`` sees exactly the same episodes.
    """
    return {
        k: episodic_accuracy(features, test_set, n_way, k, n_query, n_episodes, seed) for k in shots
    }


@dataclass
class MethodResult:
    """One row of the chapter-8 comparison table."""

    method: str
    trained_on: str  #: e.g. "RS/Pa/In (labels)", "RS/Pa/In (no labels)", "nothing"
    scores: dict[int, EpisodicResult]
    parameters: int | None = None
    train_seconds: float | None = None
    latency_ms: float | None = None  #: batch-1 embedding on the CPU, median
    note: str = ""
    training_seed: int | None = None  #: for methods trained more than once

    @property
    def label(self) -> str:
        """The method's name with its training seed, e.g. ``"compact (seed 1)"``: one row's name."""
        seed = self.training_seed
        return self.method if seed is None else f"{self.method} (seed {seed})"

    def row(self) -> dict[str, Any]:
        """A flat dict for a pandas table: accuracies and CIs in percent."""
        out: dict[str, Any] = {"method": self.label, "trained on": self.trained_on}
        for k, r in sorted(self.scores.items()):
            out[f"{r.n_way}-way {k}-shot %"] = round(100 * r.mean, 1)
            out[f"{k}-shot CI ±"] = round(100 * r.ci95, 1)
        out["parameters"] = self.parameters
        out["train s"] = None if self.train_seconds is None else round(self.train_seconds, 1)
        out["CPU ms/query"] = None if self.latency_ms is None else round(self.latency_ms, 2)
        out["note"] = self.note
        return out


def method_result(
    method: str,
    trained_on: str,
    model: nn.Module,
    train_images: ImageSet,
    test_set: ImageSet,
    *,
    normalise: bool = True,
    train_seconds: float | None = None,
    latency_repeats: int = 20,
    note: str = "",
    training_seed: int | None = None,
    **score_kwargs: Any,
) -> MethodResult:
    """Embed, (optionally) SimpleShot-normalise with the training images, score, time.

    Latency is the median of ``latency_repeats`` batch-1 forward passes on the CPU with one
    thread (the deployment case of chapter 9), at the test images' size. Rows of one
    method trained with several seeds share ``method`` and differ by ``training_seed``
    (the episodes' seed is ``score_kwargs["seed"]``).
    """
    test = embed(model, test_set)
    if normalise:
        test = simpleshot(test, embed(model, train_images))
    scores = few_shot_scores(test, test_set, **score_kwargs)
    cpu = _cpu_copy(model)
    timing = time_inference(cpu, 1, test_set.image_size, "cpu", latency_repeats, num_threads=1)
    return MethodResult(
        method,
        trained_on,
        scores,
        parameters=sum(p.numel() for p in model.parameters()),
        train_seconds=train_seconds,
        latency_ms=timing.ms_per_image,
        note=note,
        training_seed=training_seed,
    )


def _cpu_copy(model: nn.Module) -> nn.Module:
    import copy

    dev = next(model.parameters()).device
    return model if dev.type == "cpu" else copy.deepcopy(model).cpu()


def run_ablation(
    base: TrainConfig,
    kind: str,
    variations: Sequence[tuple[str, dict[str, Any]]],
    seeds: Sequence[int],
    split: Callable[[int], tuple[ImageSet, ImageSet, ImageSet]],
    out_root: str | Path,
    *,
    normalise: bool = True,
    n_episodes: int = 1000,
    device: torch.device | str | None = None,
) -> list[dict[str, Any]]:
    """Train ``base`` changed by each variation, once per seed; one result row per run.

    Args:
        variations: ``(label, changes)`` pairs; ``changes`` may hold TrainConfig fields and
            ``"kind"`` (``"episodic"`` or ``"siamese"``) to switch the loss.
        split: ``seed -> (train, val, test)`` (the split may depend on the seed).
        out_root: runs go to ``out_root/<label>/seed<N>`` and are loaded when already trained.

    Each row: label, seed, 1-shot and 5-shot accuracy (3-way, ``n_episodes`` seeded
    episodes), training seconds and the best validation epoch.
    """
    rows = []
    for label, changes in variations:
        changes = dict(changes)
        run_kind = changes.pop("kind", kind)
        for seed in seeds:
            train, val, test = split(seed)
            cfg = replace(base, seed=seed, **changes)
            run = seed_dir(Path(out_root) / label, seed)
            t0 = time.perf_counter()
            net = train_or_load(cfg, train, val, run, kind=run_kind, device=device, progress=False)
            hist = read_history(run)
            feats = embed(net, test)
            if normalise:
                feats = simpleshot(feats, embed(net, train))
            scores = few_shot_scores(feats, test, n_episodes=n_episodes, seed=seed)
            rows.append(
                {
                    "setting": label,
                    "seed": seed,
                    "1-shot": scores[1].mean,
                    "5-shot": scores[5].mean,
                    "train s": hist.get("total_seconds", time.perf_counter() - t0),
                    "best epoch": hist.get("best_epoch"),
                }
            )
    return rows
