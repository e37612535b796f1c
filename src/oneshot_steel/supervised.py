"""Supervised 6-way classification on a split of all classes: the CNN and Table 3.

The paper's Table 3 trains both models on 80 % of ALL six classes and tests on the rest:

- :func:`train_cnn`: the paper's CNN classifier (Fig. 1 trunk, 6 logits; 93.24 % in Tables
  2 and 3), trained with cross-entropy, on-device augmentation and mixed precision;
- :func:`siamese_prototype_6way`: the Siamese net trained on the same images and used as a
  6-way classifier by the nearest class prototype (92.55 % in Table 3);
- :func:`table3`: both on one seeded, duplicate-safe stratified split.

Results are :class:`ClassificationResult` objects: accuracy, chance, confusion matrix and
per-image flags (for a confidence interval).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import confusion_matrix
from torch import nn

from .augment import to_model_input
from .checkpoint import data_fingerprint, write_checkpoint
from .classifier import OneShotClassifier
from .config import CNN_PRESETS, CNNConfig, TrainConfig
from .data.imageset import ImageSet
from .data.splits import stratified_split
from .errors import CheckpointError
from .evaluate import mean_ci95
from .models import CompactEmbeddingNet, PaperCNNClassifier
from .runtime import default_device
from .torch_io import load_file, refuse_non_finite, write_companion_json
from .train import train_classifier, train_or_load
from .truncate import cap_epochs, test_steps

__all__ = [
    "CNN_FILE",
    "CNN_PRESETS",
    "CNNConfig",
    "CNNResult",
    "ClassificationResult",
    "build_cnn",
    "scored",
    "siamese_prototype_6way",
    "table3",
    "train_cnn",
]

#: File a CNN run leaves in its ``out_dir`` (weights, config, data fingerprint, result).
CNN_FILE = "cnn.pt"
#: What a CNN result's ``history`` holds (one value per epoch, then where and how it ran).
_CNN_HISTORY = ("train_loss", "train_accuracy", "seconds", "device", "precision")


# ------------------------------------------------------------------------------ results
@dataclass
class ClassificationResult:
    """A whole-set classification score: accuracy, chance, confusion matrix, per-image flags."""

    protocol: str
    accuracy: float
    n_correct: int
    n_total: int
    chance: float
    classes: list[str]
    confusion: list[list[int]]  #: rows: true class, columns: predicted class
    correct: list[bool] = field(repr=False, default_factory=list)

    @property
    def ci95(self) -> float:
        """95 % confidence half-width over the scored images (normal approximation)."""
        return (
            mean_ci95([float(c) for c in self.correct])[1]
            if len(self.correct) > 1
            else float("nan")
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the per-image flags or a model)."""
        out = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("correct", "model")
        }
        out["ci95"] = self.ci95
        return out


def scored(
    protocol: str,
    labels: np.ndarray,
    pred: np.ndarray,
    classes: list[str],
    cls: type[ClassificationResult] = ClassificationResult,
    **extra: Any,
) -> Any:
    """Score predictions against labels (class indices): one result type for every
    classifier, so KNN, CNN and Siamese rows report the same fields."""
    correct = pred == labels
    cm = confusion_matrix(labels, pred, labels=list(range(len(classes))))
    return cls(
        protocol=protocol,
        accuracy=float(correct.mean()),
        n_correct=int(correct.sum()),
        n_total=int(correct.size),
        chance=1.0 / len(classes),
        classes=list(classes),
        confusion=cm.tolist(),
        correct=correct.tolist(),
        **extra,
    )


# ------------------------------------------------------------------------------ the paper's CNN
@dataclass
class CNNResult(ClassificationResult):
    """The CNN's test score plus its training curve; ``model`` is the trained net."""

    history: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    model: nn.Module | None = field(default=None, repr=False, compare=False)


def build_cnn(config: CNNConfig, num_classes: int, image_size: int) -> nn.Module:
    """The classifier of ``config.model`` with ``num_classes`` outputs."""
    if config.model == "paper":
        return PaperCNNClassifier(num_classes=num_classes, image_size=image_size)
    if config.model == "compact":  # the embedding net with one output per class is a classifier
        return CompactEmbeddingNet(embedding_dim=num_classes, width=config.width)
    raise ValueError(f"Unknown CNN model {config.model!r}; choose 'paper' or 'compact'")


def _predict(
    net: nn.Module, images: torch.Tensor, device: torch.device, batch: int = 512
) -> np.ndarray:
    net.eval()
    with torch.inference_mode():
        out = [
            net(to_model_input(images[s : s + batch].to(device))).argmax(1).cpu()
            for s in range(0, len(images), batch)
        ]
    return torch.cat(out).numpy()


def train_cnn(
    train_set: ImageSet,
    test_set: ImageSet,
    config: CNNConfig | None = None,
    device: torch.device | str | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
) -> CNNResult:
    """Train the paper's CNN classifier on ``train_set``; score it once on ``test_set``.

    Cross-entropy, Adam, shuffled mini-batches, the paper's augmentation on the device, in the
    one training loop of the embedding nets (:func:`~oneshot_steel.train.train_classifier`,
    :class:`~oneshot_steel.tasks.ClassificationTask`: mixed precision, divergence checks); the
    last epoch is scored, as the authors did (no validation set, no early stopping). Every
    epoch's shuffle and augmentation derive from ``(config.seed, epoch)``.

    With ``out_dir`` the weights and result go to ``out_dir/cnn.pt``; a later call with the
    same config and data returns the stored result without training again, and prints
    ``Loaded the CNN result from ...`` (as :func:`~oneshot_steel.train.train_or_load` does).
    """
    config = config or CNNConfig()
    capped = cap_epochs(config)  # TEST-ONLY knob (.truncate): the epochs cnn.pt records
    if train_set.classes != test_set.classes or train_set.image_size != test_set.image_size:
        raise ValueError(
            f"train_cnn needs train and test sets with the same classes and image size; got "
            f"{train_set.classes} {train_set.image_size}px and {test_set.classes} {test_set.image_size}px"
        )
    device = torch.device(device) if device is not None else default_device()
    data = {"train": data_fingerprint(train_set), "test": data_fingerprint(test_set)}
    path = Path(out_dir) / CNN_FILE if out_dir is not None else None
    n_cls = len(train_set.classes)
    if path is not None and path.is_file():
        cached = _load_cnn(path, capped, data, n_cls, train_set.image_size, device)
        if cached is not None:
            print(
                f"Loaded the CNN result from {path} ({capped.epochs} epochs, same config and "
                "data); delete it to retrain."
            )
            return cached
    # Since the CNN became a task of the one loop, its shuffle and augmentation come from the
    # named seed streams (EPISODES, AUGMENT), not bare streams 1 and 2: other draws, so the
    # numbers moved by chance (15 epochs, seed 0: 76.4 -> 81.4 %; benchmarks/RESULTS.md).
    net, history = train_classifier(
        config,
        lambda: build_cnn(config, n_cls, train_set.image_size),
        train_set,
        device=device,
        progress=progress,
    )
    history = {k: history[k] for k in _CNN_HISTORY}
    pred = _predict(net, test_set.images, device)
    protocol = (
        f"{n_cls}-way classification of a held-out set ({len(test_set)} images) by a "
        f"CNN trained on {len(train_set)} images"
    )
    result = scored(
        protocol,
        test_set.labels.numpy(),
        pred,
        test_set.classes,
        CNNResult,
        history=history,
        config=capped.to_dict(),
    )
    if path is not None:
        payload = {
            "format": 1,
            "config": capped.to_dict(),
            "data": data,
            "state_dict": net.state_dict(),
            "result": {**result.to_dict(), "correct": result.correct},
            **({"test_steps": test_steps()} if test_steps() is not None else {}),
        }
        write_checkpoint(path, payload)
        write_companion_json(path.with_suffix(".json"), result.to_dict())
    result.model = net.eval()
    return result


def _load_cnn(
    path: Path, config: CNNConfig, data: dict, n_cls: int, size: int, device: torch.device
) -> CNNResult | None:
    """The stored result when ``path`` holds this config trained on this data, else None."""
    blob = load_file(path)  # never runs code from the file; names it when unreadable
    if not isinstance(blob, dict):
        raise CheckpointError(f"{path} is not a CNN checkpoint of this package; delete it.")
    if blob.get("config") != config.to_dict() or blob.get("data") != data:
        return None  # another run: train again and overwrite it
    if blob.get("test_steps") != test_steps():
        return None  # a truncated test run and a real one never mix (see .truncate)
    net = build_cnn(config, n_cls, size)
    try:
        stored = {k: v for k, v in blob["result"].items() if k != "ci95"}
        result = CNNResult(**stored)
        refuse_non_finite(blob["state_dict"], path)
        net.load_state_dict(blob["state_dict"])
    except (AttributeError, KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path} is damaged or from another version ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200]}); delete it to train the CNN again."
        ) from exc
    result.model = net.to(device).eval()
    return result


# ------------------------------------------------------------------------------ Table 3
def siamese_prototype_6way(
    train_set: ImageSet,
    test_set: ImageSet,
    config: TrainConfig,
    out_dir: str | Path,
    *,
    device: torch.device | str | None = None,
    val_fraction: float = 0.1,
    progress: bool = True,
) -> ClassificationResult:
    """Table 3's Siamese row: train on (most of) ``train_set``, classify ``test_set`` by the
    nearest class prototype (mean embedding of all of that class's training images).

    ``val_fraction`` of ``train_set`` (stratified, seeded) is held out of training to pick
    the best epoch; the prototypes use every training image. Trained or loaded with
    :func:`~oneshot_steel.train.train_or_load`, so a re-run costs only the embedding.
    """
    inner, val = stratified_split(train_set, test_fraction=val_fraction, seed=config.seed)
    net = train_or_load(config, inner, val, out_dir, device=device, progress=progress)
    clf = OneShotClassifier(net, device=device).enroll(train_set)
    pred, _ = clf.predict(test_set)
    protocol = (
        f"{len(test_set.classes)}-way nearest-prototype classification of "
        f"{len(test_set)} held-out images; prototypes from {len(train_set)} training images"
    )
    return scored(protocol, test_set.labels.numpy(), pred.numpy(), test_set.classes)


def table3(
    data: ImageSet,
    siamese_config: TrainConfig,
    cnn_config: CNNConfig,
    out_dir: str | Path,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> dict[str, ClassificationResult]:
    """Table 3: the Siamese net and the CNN trained on the SAME stratified 80 % of all
    classes and scored on the same 20 % (duplicate-safe split, ``seed``)."""
    train_set, test_set = stratified_split(data, test_fraction=test_fraction, seed=seed)
    out_dir = Path(out_dir)
    siamese = siamese_prototype_6way(
        train_set,
        test_set,
        replace(siamese_config, seed=seed),
        out_dir / "siamese",
        device=device,
        progress=progress,
    )
    cnn = train_cnn(
        train_set,
        test_set,
        replace(cnn_config, seed=seed),
        device=device,
        out_dir=out_dir / "cnn",
        progress=progress,
    )
    return {"siamese": siamese, "cnn": cnn}
