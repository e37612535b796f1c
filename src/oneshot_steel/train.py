"""Training: the paper's Siamese recipe (contrastive loss on random pairs), prototypical
episodes and self-supervised views, sharing one loop with mixed precision, checkpoints,
resume and divergence checks.

The Siamese training step itself (pairs -> one forward pass -> contrastive loss) is
:meth:`oneshot_steel.tasks.PairTask.loss`; :mod:`oneshot_steel.tasks` holds every task's step,
this module the loop that runs them (:func:`_fit`) and the public entry points.

Design choices a reader should know about:

- The whole training set lives on the device as uint8 (1,800 images of 100x100 are 18 MB);
  pairs/episodes are index tensors and augmentation runs on the device, so no DataLoader,
  no worker processes and no per-image Python.
- Every epoch's randomness (which pairs, which augmentation) is a pure function of
  ``(seed, epoch)``. A run resumed after epoch k therefore needs no saved RNG state and, on a
  CPU, ends with bit-identical weights to an uninterrupted run.
- Each epoch ends with one checkpoint written atomically (see :mod:`oneshot_steel.checkpoint`);
  a NaN/inf loss, weight or BatchNorm statistic, or embeddings collapsed onto one point raise
  :class:`~oneshot_steel.errors.TrainingDivergedError` before anything is written
  (:mod:`oneshot_steel.divergence`), so the last good checkpoint survives.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from .checkpoint import (
    FORMAT_VERSION,
    MODEL_FILE,
    build_from_spec,
    check_resumable,
    data_fingerprint,
    load_checkpoint,
    model_spec,
    new_history,
    read_checkpoint,
    read_history,
    record_epoch,
    restore_run,
    save_epoch,
)
from .config import PRESETS, CNNConfig, TrainConfig
from .data.imageset import ImageSet
from .divergence import check_epoch
from .precision import AutocastSettings, autocast_settings, cpu_bf16_features
from .runtime import default_device, keep_freed_memory
from .tasks import (
    AUGMENT,
    INIT,
    ClassificationTask,
    EpisodeTask,
    PairTask,
    SelfSupervisedTask,
    Task,
    epoch_seed,
)
from .transfer import load_imagenet_weights
from .truncate import cap, cap_epochs, test_steps, warn_truncated

__all__ = [
    "PRESETS",
    "AutocastSettings",
    "TrainConfig",
    "autocast_settings",
    "cpu_bf16_features",
    "fused_adam",
    "load_checkpoint",
    "read_history",
    "train_classifier",
    "train_episodic",
    "train_or_load",
    "train_self_supervised",
    "train_siamese",
]


# ----------------------------------------------------------------------------- shared loop
# (what differs between the kinds of training, the tasks: see .tasks)
def fused_adam(net: nn.Module, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """Adam, fused into one kernel where this torch supports it on the device (3-4x faster
    updates of the paper net's 40 M weights on a CPU), else the default implementation."""
    try:
        return torch.optim.Adam(net.parameters(), lr=lr, betas=betas, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(net.parameters(), lr=lr, betas=betas)


def _check_sets(train_set: ImageSet, val_set: ImageSet | None) -> None:
    if len(train_set) == 0:
        raise ValueError("train_set holds no images; check the data folder and the classes")
    if val_set is None:
        return
    if len(val_set) == 0:
        raise ValueError(
            "val_set holds no images: hold out some (val_fraction > 0), or pass val_set=None "
            "to train without validation (the last epoch is then kept)"
        )
    if val_set.classes != train_set.classes or val_set.image_size != train_set.image_size:
        raise ValueError(
            f"val_set must hold held-out images of the TRAINING classes at the same size: "
            f"train {train_set.classes} at {train_set.image_size}px, val {val_set.classes} at "
            f"{val_set.image_size}px. Never validate (or pick thresholds) on the test classes."
        )


class _RunFiles:
    """The files of an embedding run in ``out_dir`` (``model.pt``, ``best.pt``,
    ``history.json``): what the net is, resuming from them, writing them after each epoch."""

    def __init__(
        self,
        out_dir: str | Path,
        config: TrainConfig,
        kind: str,
        train_set: ImageSet,
        val_set: ImageSet | None,
        resume: bool,
    ):
        self.out_dir, self.config, cfg = Path(out_dir), config, config.to_dict()
        self.path = self.out_dir / MODEL_FILE
        self.resuming = resume and self.path.is_file()
        self.meta: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "kind": kind,
            "model": model_spec(cfg, train_set.image_size),
            "config": cfg,
            "data": {"train": data_fingerprint(train_set), "val": data_fingerprint(val_set)},
        }
        if test_steps() is not None:  # a truncated test run: never loaded as a real one
            self.meta["test_steps"] = test_steps()
        self.pending_best: dict[str, torch.Tensor] | None = None  # see save_epoch

    def build_net(self) -> nn.Module:
        net = build_from_spec(self.meta["model"])
        if self.config.pretrained and not self.resuming:
            if not hasattr(net, "backbone"):
                raise ValueError(
                    f"pretrained=True needs model='resnet18'; got {self.config.model!r}"
                )
            load_imagenet_weights(net)
        return net

    def restore(
        self,
        net: nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        device: torch.device,
    ) -> dict[str, Any]:
        """The history so far, with ``net``, ``optimizer`` and ``scaler`` where it left off."""
        m = self.meta
        if not self.resuming:
            return new_history(m["kind"])
        history, self.pending_best = restore_run(
            self.path, device, m["config"], m["kind"], m["data"], net, optimizer, scaler
        )
        return history

    def save(
        self,
        epoch: int,
        net: nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        history: dict[str, Any],
        is_best: bool,
    ) -> None:
        """Checkpoint after ``epoch`` (a full save every ``checkpoint_every`` and at the end)."""
        every, last = self.config.checkpoint_every, self.config.epochs
        self.pending_best = save_epoch(
            self.out_dir,
            {**self.meta, "epoch": epoch},
            net,
            optimizer,
            scaler,
            history,
            self.pending_best,
            is_best=is_best,
            full=epoch == last or epoch % every == 0,
        )


def _fit(
    task_cls: type[Task],
    config: TrainConfig | CNNConfig,
    train_set: ImageSet,
    val_set: ImageSet | None,
    out_dir: str | Path | None,
    device: torch.device | str | None,
    resume: bool,
    progress: bool,
    build_net: Callable[[], nn.Module] | None = None,
) -> tuple[nn.Module, dict]:
    """The one training loop: ``(trained net, history)`` of ``task_cls`` trained per ``config``.

    With ``out_dir`` (a :class:`TrainConfig` run) the net is built from the config, resumed
    from and checkpointed into ``out_dir``; without it nothing is written and ``build_net``
    makes the net. Either way the net is initialised from the run's :data:`~.tasks.INIT` seed.
    """
    _check_sets(train_set, val_set)
    where = "" if out_dir is None else f" into {out_dir}"
    warn_truncated(f"{task_cls.kind} training{where}", config.epochs)
    config = cap_epochs(config)  # TEST-ONLY knob (see .truncate); recorded in the checkpoint
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cpu":
        keep_freed_memory()  # no page faults for fc1's per-step buffers: ~2x faster steps
    files = None
    if out_dir is not None and isinstance(config, TrainConfig):
        files = _RunFiles(out_dir, config, task_cls.kind, train_set, val_set, resume)
        build_net = files.build_net
    elif out_dir is not None or build_net is None:
        raise TypeError("_fit: a TrainConfig run is checkpointed in out_dir; others need build_net")
    with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
        torch.manual_seed(epoch_seed(config.seed, 0, INIT))
        net = build_net()
    amp = autocast_settings(device, config.amp)
    net = net.to(device, memory_format=amp.memory_format)
    task = task_cls(config, net, train_set, val_set, memory_format=amp.memory_format)
    optimizer = fused_adam(net, config.lr, tuple(config.betas))
    scaler = torch.amp.GradScaler(device.type, enabled=amp.use_grad_scaler)
    history = files.restore(net, optimizer, scaler, device) if files else new_history(task.kind)
    history.update(device=str(device), precision=amp.precision)
    if test_steps() is not None:
        history["test_steps"] = test_steps()
    start = len(history["epoch"])
    bar = tqdm(
        range(start, config.epochs),
        desc=f"{task.kind} training",
        unit="epoch",
        disable=not progress,
        initial=start,
        total=config.epochs,
    )
    for epoch in bar:
        t0 = time.perf_counter()
        gen = torch.Generator(device=device).manual_seed(epoch_seed(config.seed, epoch, AUGMENT))
        net.train()
        step_losses, batches = [], task.batches(epoch)
        for batch in tqdm(
            batches[: cap(len(batches))],
            desc=f"epoch {epoch + 1}",
            leave=False,
            disable=not progress,
        ):
            with torch.autocast(device.type, dtype=amp.dtype) if amp.enabled else nullcontext():
                loss = task.loss(batch, gen)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            step_losses.append(loss.detach())
        losses = torch.stack(step_losses).float().cpu()  # one device sync per epoch
        emb = task.val_embeddings()
        val = task.validate(emb) if val_set is not None else {}
        check_epoch(  # before anything is written: a blown-up epoch is never saved
            epoch,
            losses,
            val.get("val_loss"),
            net,
            optimizer,
            emb,
            what=task.check_what,
            distinct=task.check_distinct,
            lr=config.lr,
            kept=files.path if files else None,
        )
        seconds = time.perf_counter() - t0  # compute + validation, not the checkpoint write
        select_by = getattr(config, "select_epoch_by", "val_loss")  # CNNConfig: the loss
        is_best = record_epoch(history, epoch + 1, float(losses.mean()), val, seconds, select_by)
        for key, value in task.train_metrics().items():
            history.setdefault(key, []).append(value)
        if files:
            files.save(epoch + 1, net, optimizer, scaler, history, is_best)
        bar.set_postfix(
            loss=f"{history['train_loss'][-1]:.4f}", val=f"{val['val_loss']:.4f}" if val else "-"
        )
    bar.close()
    return net, history


def train_siamese(
    config: TrainConfig,
    train_set: ImageSet,
    val_set: ImageSet | None,
    out_dir: str | Path,
    *,
    device: torch.device | str | None = None,
    resume: bool = True,
    progress: bool = True,
) -> dict:
    """Train the Siamese net with the contrastive loss on random pairs (the paper's recipe).

    ``val_set`` holds held-out images of the TRAINING classes; its loss on fixed, seeded pairs
    (no augmentation) picks the best epoch. Returns the history (also in ``history.json``).
    """
    return _fit(PairTask, config, train_set, val_set, out_dir, device, resume, progress)[1]


def train_episodic(
    config: TrainConfig,
    train_set: ImageSet,
    val_set: ImageSet | None,
    out_dir: str | Path,
    *,
    device: torch.device | str | None = None,
    resume: bool = True,
    progress: bool = True,
) -> dict:
    """Train a prototypical network: one ``n_way``-way ``k_shot``-shot episode per step.

    Validation is the loss and accuracy on ``val_episodes`` fixed episodes of ``val_set``.
    """
    return _fit(EpisodeTask, config, train_set, val_set, out_dir, device, resume, progress)[1]


def train_self_supervised(
    config: TrainConfig,
    train_set: ImageSet,
    val_set: ImageSet | None,
    out_dir: str | Path,
    *,
    device: torch.device | str | None = None,
    resume: bool = True,
    progress: bool = True,
) -> dict:
    """Train an embedding net without labels: NT-Xent on two augmented views of each image.

    Each step draws ``ssl_batch`` training images and two random windows of each
    (``crop_size``, then the paper's augmentation); ``episodes_per_epoch`` steps make an
    epoch. The labels of ``val_set`` are used only to report validation episodes.
    """
    task = SelfSupervisedTask
    return _fit(task, config, train_set, val_set, out_dir, device, resume, progress)[1]


def train_classifier(
    config: CNNConfig,
    build_net: Callable[[], nn.Module],
    train_set: ImageSet,
    val_set: ImageSet | None = None,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> tuple[nn.Module, dict]:
    """Train a classifier (the paper's CNN baseline) in the same loop: ``(net, history)``.

    Cross-entropy on shuffled mini-batches with the paper's augmentation
    (:class:`~oneshot_steel.tasks.ClassificationTask`). ``build_net()`` makes the untrained
    net (seeded here). Nothing is written: :func:`oneshot_steel.supervised.train_cnn` keeps
    the trained CNN and its result in one ``cnn.pt``. ``history`` adds ``train_accuracy``.
    """
    return _fit(
        ClassificationTask, config, train_set, val_set, None, device, False, progress, build_net
    )


def train_or_load(
    config: TrainConfig,
    train_set: ImageSet,
    val_set: ImageSet | None,
    out_dir: str | Path,
    *,
    kind: str = "siamese",
    device: torch.device | str | None = None,
    progress: bool = True,
    weights: str = "best",
) -> nn.Module:
    """The trained embedding net: loaded when ``out_dir`` holds a finished run of this config
    on this data, otherwise trained (resuming a partial run). Prints which of the two happened.
    """
    fit = _FITS.get(kind)
    if fit is None:
        raise ValueError(f"kind must be one of {sorted(_FITS)}; got {kind!r}")
    path = Path(out_dir) / MODEL_FILE
    capped = cap_epochs(config)  # as _fit will: a truncated test run is finished at N epochs
    if path.is_file():
        ckpt = read_checkpoint(path, mmap=True)  # metadata only: the paper run's is 483 MB
        data = {"train": data_fingerprint(train_set), "val": data_fingerprint(val_set)}
        check_resumable(ckpt, capped.to_dict(), kind, data, path)
        done, epoch = ckpt["epoch"] == capped.epochs, ckpt["epoch"]
        del ckpt  # unmap the file before it is rewritten (Windows cannot replace a mapped file)
        if done:
            print(
                f"Loaded the trained model from {path} ({epoch} epochs, same config "
                "and data); delete that folder to train again."
            )
            return load_checkpoint(path, device, weights=weights)[0]
        print(f"Resuming training from {path} at epoch {epoch} of {capped.epochs}.")
    fit(config, train_set, val_set, out_dir, device=device, resume=True, progress=progress)
    return load_checkpoint(path, device, weights=weights)[0]


_FITS = {"siamese": train_siamese, "episodic": train_episodic, "selfsup": train_self_supervised}
