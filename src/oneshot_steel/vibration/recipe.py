"""How the chapter and the CLI train a Siamese net on vibration windows: the settings per
mode (:data:`VIBRATION_PRESETS`) and :func:`train_vibration`, which hands a protocol's
training and validation windows to the book's one training loop
(:func:`oneshot_steel.train.train_or_load`: the same pairs, contrastive loss, checkpoints
and resume as the image chapters).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import TrainConfig
from ..train import train_or_load
from .protocols import Protocol

__all__ = ["LOSSES", "VIBRATION_MODELS", "VIBRATION_PRESETS", "train_vibration", "vibration_config"]

#: The sequence branches (:mod:`oneshot_steel.sequence_nets`).
VIBRATION_MODELS = ("wdcnn", "gru")
#: Loss name -> the kind of run :func:`~oneshot_steel.train.train_or_load` trains.
LOSSES = {"contrastive": "siamese", "prototypical": "episodic"}
#: Per mode: net size, epochs of pairs (batches of 64), windows kept per recording (None:
#: all). No augmentation: the images' rotations and flips mean nothing for a signal.
#: ``smoke`` is a seconds-long CI check; ``quick`` is the chapter's CPU run (about a minute
#: per net on 2 cores); ``paper`` (the book's "full" mode) trains longer.
VIBRATION_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {"width": 8, "embedding_dim": 16, "epochs": 1, "pairs_per_epoch": 128,
              "val_pairs": 64, "max_per_record": 12},
    "quick": {"width": 16, "embedding_dim": 32, "epochs": 8, "pairs_per_epoch": 1024,
              "val_pairs": 512, "max_per_record": None},
    "paper": {"width": 16, "embedding_dim": 32, "epochs": 30, "pairs_per_epoch": 2048,
              "val_pairs": 1024, "max_per_record": None},
}  # fmt: skip


def vibration_config(
    preset: str, model: str = "wdcnn", loss: str = "contrastive", seed: int = 0, **overrides: Any
) -> TrainConfig:
    """The :class:`TrainConfig` of ``preset`` for a sequence branch: Adam 3e-3, batches of
    64 pairs (or 5-way 1-shot episodes with 8 queries), margin 2, no augmentation."""
    if preset not in VIBRATION_PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; choose one of {sorted(VIBRATION_PRESETS)}")
    if model not in VIBRATION_MODELS:
        raise ValueError(f"model must be one of {VIBRATION_MODELS} for signals; got {model!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}; got {loss!r}")
    p = {k: v for k, v in VIBRATION_PRESETS[preset].items() if k != "max_per_record"}
    config = TrainConfig(
        model=model,
        batch_size=64,
        lr=3e-3,  # few steps per run: on protocol (c), 6 epochs at 3e-3 beat 15 at 1e-3
        augment=False,
        amp=False,  # float32: these nets are small, and bf16 on a CPU slows the GRU down
        seed=seed,
        n_way=5,
        k_shot=1,
        n_query=8,
        episodes_per_epoch=p["pairs_per_epoch"] // 64,
        val_episodes=50,
        **p,
    )
    return replace(config, **overrides)


def train_vibration(
    protocol: Protocol,
    config: TrainConfig,
    out_dir: str | os.PathLike,
    *,
    loss: str = "contrastive",
    device: torch.device | str | None = None,
    progress: bool = True,
) -> nn.Module:
    """The net trained on ``protocol.train`` (best epoch on ``protocol.val``), loaded from
    ``out_dir`` when that folder holds this very run, else trained (or resumed) there."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}; got {loss!r}")
    return train_or_load(
        config,
        protocol.train,
        protocol.val,
        Path(out_dir),
        kind=LOSSES[loss],
        device=device,
        progress=progress,
    )
