"""The baselines the paper compares against, and the Table 3 protocol.

- :func:`knn_paper_protocol`: the authors' k = 1 nearest neighbour on 32x32 raw pixels with
  ONE support image per class (``Cr_1`` ... ``Sc_1``), scored on every image (Table 2, 28.22 %).
- :func:`raw_pixel_episodic` and :func:`lbp_episodic`: the fair versions of "no learning at
  all": raw pixels or texture histograms on the same N-way K-shot episodes as the Siamese net,
  scored by :func:`oneshot_steel.evaluate.episodic_accuracy` (nothing is implemented twice).
- :func:`train_cnn`: the paper's supervised CNN (Table 2 and 3, 93.24 %), and
  :func:`siamese_prototype_6way`: the Siamese net trained on 80 % of all six classes and scored
  as a 6-way nearest-prototype classifier on the other 20 % (Table 3, 92.55 %).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix
from sklearn.neighbors import KNeighborsClassifier
from torch import nn
from tqdm.auto import tqdm

from ._utils import atomic_write_json, default_device
from .augment import augment_batch, to_model_input
from .checkpoint import data_fingerprint, write_checkpoint
from .data.imageset import NEU_CLASSES, ImageSet
from .data.splits import stratified_split
from .errors import CheckpointError, DataError, TrainingDivergedError, UnknownClassError
from .evaluate import EpisodicResult, OneShotClassifier, episodic_accuracy, mean_ci95
from .models import CompactEmbeddingNet, PaperCNNClassifier
from .train import TrainConfig, autocast_settings, epoch_seed, train_or_load

__all__ = [
    "CNN_PRESETS",
    "PAPER_KNN_SUPPORTS",
    "CNNConfig",
    "CNNResult",
    "ClassificationResult",
    "KNNResult",
    "build_cnn",
    "knn_paper_protocol",
    "lbp_episodic",
    "lbp_features",
    "raw_pixel_episodic",
    "raw_pixels",
    "siamese_prototype_6way",
    "table3",
    "train_cnn",
]

#: File a CNN run leaves in its ``out_dir`` (weights, config, data fingerprint, result).
CNN_FILE = "cnn.pt"

#: The one support image per class the authors' KNN notebook used (file stems).
PAPER_KNN_SUPPORTS: tuple[str, ...] = tuple(f"{c}_1" for c in NEU_CLASSES)


# ------------------------------------------------------------------------------ raw pixels
def raw_pixels(images: torch.Tensor, size: int = 32) -> torch.Tensor:
    """uint8 images ``[N, 1, S, S]`` -> float32 ``[N, size*size]`` raw pixel vectors (0..255).

    Resized like OpenCV's ``cv2.resize(img, (size, size))`` (bilinear, half-pixel centres,
    NO anti-aliasing, rounded to uint8), which is what the authors' KNN notebook called.
    Matching it matters: anti-aliased resizing moves the paper protocol by about a point.
    The authors read 3-channel copies of the gray images (``cv2.imread``); three equal
    channels multiply every squared distance by 3, which leaves nearest-neighbour ranking and
    so the accuracy unchanged, so one channel is used here.
    """
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"raw_pixels expects uint8 [N, 1, S, S]; got {images.dtype} {tuple(images.shape)}")
    x = images.float()
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
        x = x.round_().clamp_(0, 255)
    return x.flatten(1)


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
        return mean_ci95([float(c) for c in self.correct])[1] if len(self.correct) > 1 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the per-image flags or a model)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name not in ("correct", "model")}
        out["ci95"] = self.ci95
        return out


def _scored(protocol: str, labels: np.ndarray, pred: np.ndarray, classes: list[str],
            cls: type[ClassificationResult] = ClassificationResult, **extra: Any) -> Any:
    correct = pred == labels
    cm = confusion_matrix(labels, pred, labels=list(range(len(classes))))
    return cls(protocol=protocol, accuracy=float(correct.mean()), n_correct=int(correct.sum()),
               n_total=int(correct.size), chance=1.0 / len(classes), classes=list(classes),
               confusion=cm.tolist(), correct=correct.tolist(), **extra)


@dataclass
class KNNResult(ClassificationResult):
    """The paper's KNN protocol: which support files were used, at which resolution."""

    supports: list[str] = field(default_factory=list)
    image_size: int = 0


def _find_support(data: ImageSet, stem: str) -> int:
    """Index of the image whose file name is ``stem`` + any extension."""
    for i, p in enumerate(data.paths):
        if Path(p).stem == stem:
            return i
    raise DataError(
        f"The paper's KNN protocol needs the support image {stem!r} (e.g. {stem}.bmp), but no "
        f"file of that name is in this set ({data.source or 'unknown source'}; first file: "
        f"{data.paths[0] if data.paths else 'none'}). Load the NEU-CLS set with its original "
        "file names (load_neu), or use raw_pixel_episodic() for sets named differently."
    )


def knn_paper_protocol(
    data: ImageSet, size: int = 32, supports: Sequence[str] = PAPER_KNN_SUPPORTS
) -> KNNResult:
    """The authors' KNN baseline of Table 2 (28.22 %), run exactly as their notebook does.

    One support image per class, found by file name (``Cr_1`` ... ``Sc_1``), resized to
    ``size`` x ``size`` raw pixels (:func:`raw_pixels`), a scikit-learn
    ``KNeighborsClassifier(n_neighbors=1)`` with Euclidean distance, scored on ALL images,
    the six supports included (each is then trivially right). Chance is 1/6.

    To reproduce the authors' preprocessing exactly, pass the set at its native 200x200
    resolution (``load_neu(size=200)``): they resized the original files straight to 32x32.
    From the 100x100 set (already anti-aliased once) the figure moves by well under a point.
    """
    if len(data) == 0:
        raise DataError("knn_paper_protocol got an empty ImageSet")
    sup_idx = [_find_support(data, s) for s in supports]
    labels = data.labels.numpy()
    sup_labels = labels[sup_idx]
    missing = sorted(set(range(len(data.classes))) - set(sup_labels.tolist()))
    if missing:
        raise UnknownClassError(
            f"The supports {list(supports)} cover no image of the classes "
            f"{[data.classes[i] for i in missing]}; give one support per class."
        )
    x = raw_pixels(data.images, size).numpy()
    knn = KNeighborsClassifier(n_neighbors=1, algorithm="brute").fit(x[sup_idx], sup_labels)
    protocol = (f"{len(data.classes)}-way 1-NN on {size}x{size} raw pixels, one support per "
                "class (files *_1), scored on all images")
    return _scored(protocol, labels, knn.predict(x), data.classes, KNNResult,
                   supports=[data.paths[i] for i in sup_idx], image_size=data.image_size)


# ------------------------------------------------------------------------------ texture (LBP)
def lbp_features(
    images: torch.Tensor, radii: Sequence[int] = (1, 2, 3), points: int = 8
) -> torch.Tensor:
    """Multi-scale uniform local-binary-pattern histograms, ``[N, len(radii) * (points + 2)]``.

    Classic hand-made texture features (Ojala et al. 2002): each pixel is coded by which of
    its ``points`` neighbours at distance ``r`` are brighter than it; "uniform" codes are
    rotation invariant, which suits defects with no preferred orientation. Each histogram is
    normalised and square-rooted, so the Euclidean distance used by the episodic evaluation
    is the Hellinger distance between histograms, the usual choice for comparing histograms.
    scikit-image works image by image, so this loops in Python; it is a one-off feature
    extraction (about 3 ms per 100x100 image on one CPU core), not a training-time hot path.
    """
    from skimage.feature import local_binary_pattern  # lazy: a heavy import only LBP needs

    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"lbp_features expects uint8 [N, 1, S, S]; got {images.dtype} {tuple(images.shape)}")
    arr = images[:, 0].numpy()
    n_bins = points + 2
    feats = np.zeros((len(arr), len(radii) * n_bins), dtype=np.float32)
    for i, img in enumerate(arr):
        for j, r in enumerate(radii):
            codes = local_binary_pattern(img, points, r, method="uniform").astype(np.int64)
            hist = np.bincount(codes.ravel(), minlength=n_bins)[:n_bins].astype(np.float32)
            feats[i, j * n_bins : (j + 1) * n_bins] = np.sqrt(hist / hist.sum())
    return torch.from_numpy(feats)


# ------------------------------------------------------------------------------ episodic baselines
def raw_pixel_episodic(
    data: ImageSet, n_way: int = 3, k_shot: int = 1, n_query: int = 15,
    n_episodes: int = 1000, seed: int = 0, size: int = 32,
) -> EpisodicResult:
    """Raw-pixel nearest neighbour (K = 1) or nearest centroid (K > 1) on N-way K-shot episodes.

    The fair "no learning" baseline: the same episodes, classes and scorer as the Siamese
    net (:func:`~oneshot_steel.evaluate.episodic_accuracy`), with the flattened ``size`` x
    ``size`` pixels (:func:`raw_pixels`) in place of learned embeddings.
    """
    return episodic_accuracy(raw_pixels(data.images, size), data, n_way, k_shot, n_query,
                             n_episodes, seed)


def lbp_episodic(
    data: ImageSet, n_way: int = 3, k_shot: int = 1, n_query: int = 15,
    n_episodes: int = 1000, seed: int = 0, features: torch.Tensor | None = None,
) -> EpisodicResult:
    """Texture baseline: :func:`lbp_features` + nearest class centroid on the same episodes.

    Pass precomputed ``features`` (``lbp_features(data.images)``) to score several episode
    settings without extracting the histograms again.
    """
    feats = lbp_features(data.images) if features is None else features
    return episodic_accuracy(feats, data, n_way, k_shot, n_query, n_episodes, seed)


# ------------------------------------------------------------------------------ the paper's CNN
@dataclass(frozen=True)
class CNNConfig:
    """Settings of the supervised CNN baseline. Defaults: the authors' CNN notebook."""

    model: str = "paper"  #: "paper" (Fig. 1 trunk, 6 logits) or "compact" (small BN net)
    width: int = 32  #: channels of the compact net's first block (ignored by "paper")
    batch_size: int = 128
    epochs: int = 120
    lr: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    augment: bool = True  #: the paper's rotations, flips and brightness, training only
    brightness: float = 10.0
    amp: bool = True  #: mixed precision where the device profits (train.autocast_settings)
    seed: int = 0

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> CNNConfig:
        """``"paper"``, ``"quick"`` or ``"smoke"`` (same names as ``TrainConfig.preset``)."""
        try:
            base = CNN_PRESETS[name]
        except KeyError:
            raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(CNN_PRESETS)}") from None
        return replace(base, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """Plain builtins (betas as a list), storable in a ``weights_only`` checkpoint."""
        return {**asdict(self), "betas": list(self.betas)}


#: ``paper``: batch 128, Adam 5e-4, 120 epochs (the authors' notebook). ``quick``: 15 epochs.
#: ``smoke``: the compact net (width 8), 3 epochs: a seconds-long CI check, not a result.
CNN_PRESETS: dict[str, CNNConfig] = {
    "paper": CNNConfig(),
    "quick": CNNConfig(epochs=15),
    "smoke": CNNConfig(model="compact", width=8, epochs=3),
}


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


def _predict(net: nn.Module, images: torch.Tensor, device: torch.device, batch: int = 512) -> np.ndarray:
    net.eval()
    with torch.inference_mode():
        out = [net(to_model_input(images[s:s + batch].to(device))).argmax(1).cpu()
               for s in range(0, len(images), batch)]
    return torch.cat(out).numpy()


def train_cnn(train_set: ImageSet, test_set: ImageSet, config: CNNConfig | None = None,
              device: torch.device | str | None = None, out_dir: str | Path | None = None,
              progress: bool = True) -> CNNResult:
    """Train the paper's CNN classifier on ``train_set``; score it once on ``test_set``.

    Cross-entropy, Adam, shuffled mini-batches, the paper's augmentation on the device
    (:func:`~oneshot_steel.augment.augment_batch`), mixed precision as in :mod:`.train`; the
    last epoch is scored, as the authors did (no validation set, no early stopping). Every
    epoch's shuffle and augmentation derive from ``(config.seed, epoch)``.

    With ``out_dir`` the weights and result go to ``out_dir/cnn.pt``; a later call with the
    same config and data returns the stored result without training again.
    """
    config = config or CNNConfig()
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
        cached = _load_cnn(path, config, data, n_cls, train_set.image_size, device)
        if cached is not None:
            return cached
    with torch.random.fork_rng(devices=[]):  # seeded init, caller's RNG untouched
        torch.manual_seed(epoch_seed(config.seed, 0, 0))
        net = build_cnn(config, n_cls, train_set.image_size).to(device)
    images, labels = train_set.images.to(device), train_set.labels.to(device)
    amp = autocast_settings(device, config.amp)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, betas=config.betas)
    scaler = torch.amp.GradScaler(device.type, enabled=amp.use_grad_scaler)
    history: dict[str, Any] = {"train_loss": [], "train_accuracy": [], "seconds": [],
                               "device": str(device), "precision": amp.precision}
    for epoch in tqdm(range(config.epochs), desc="CNN training", unit="epoch", disable=not progress):
        t0 = time.perf_counter()
        net.train()
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(
            epoch_seed(config.seed, epoch, 1))).to(device)
        gen = torch.Generator(device=device).manual_seed(epoch_seed(config.seed, epoch, 2))
        losses, hits = [], []
        for s in range(0, len(order), config.batch_size):
            idx = order[s:s + config.batch_size]
            x = (augment_batch(images[idx], gen, brightness=config.brightness) if config.augment
                 else to_model_input(images[idx]))
            with torch.autocast(device.type, dtype=amp.dtype) if amp.enabled else nullcontext():
                logits = net(x)
            loss = F.cross_entropy(logits.float(), labels[idx])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.detach())
            hits.append((logits.argmax(1) == labels[idx]).sum())
        loss_t = torch.stack(losses).float().cpu()  # one device sync per epoch
        if not torch.isfinite(loss_t).all():
            raise TrainingDivergedError(
                f"CNN training diverged in epoch {epoch + 1} (loss {loss_t.tolist()[:4]}...). "
                f"Try a lower learning rate (lr={config.lr:g} now) or amp=False."
            )
        history["train_loss"].append(float(loss_t.mean()))
        history["train_accuracy"].append(float(torch.stack(hits).sum()) / len(images))
        history["seconds"].append(time.perf_counter() - t0)
    pred = _predict(net, test_set.images, device)
    protocol = (f"{n_cls}-way classification of a held-out set ({len(test_set)} images) by a "
                f"CNN trained on {len(train_set)} images")
    result = _scored(protocol, test_set.labels.numpy(), pred, test_set.classes, CNNResult,
                     history=history, config=config.to_dict())
    if path is not None:
        payload = {"format": 1, "config": config.to_dict(), "data": data,
                   "state_dict": net.state_dict(), "result": {**result.to_dict(), "correct": result.correct}}
        write_checkpoint(path, payload)
        atomic_write_json(path.with_suffix(".json"), result.to_dict())
    result.model = net.eval()
    return result


def _load_cnn(path: Path, config: CNNConfig, data: dict, n_cls: int, size: int,
              device: torch.device) -> CNNResult | None:
    """The stored result when ``path`` holds this config trained on this data, else None."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"Cannot read the CNN checkpoint {path} ({type(exc).__name__}); delete it to retrain."
        ) from exc
    if blob.get("config") != config.to_dict() or blob.get("data") != data:
        return None  # another run: train again and overwrite it
    stored = dict(blob["result"])
    stored.pop("ci95", None)
    result = CNNResult(**stored)
    net = build_cnn(config, n_cls, size)
    net.load_state_dict(blob["state_dict"])
    result.model = net.to(device).eval()
    return result


# ------------------------------------------------------------------------------ Table 3
def siamese_prototype_6way(
    train_set: ImageSet, test_set: ImageSet, config: TrainConfig, out_dir: str | Path, *,
    device: torch.device | str | None = None, val_fraction: float = 0.1, progress: bool = True,
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
    protocol = (f"{len(test_set.classes)}-way nearest-prototype classification of "
                f"{len(test_set)} held-out images; prototypes from {len(train_set)} training images")
    return _scored(protocol, test_set.labels.numpy(), pred.numpy(), test_set.classes)


def table3(
    data: ImageSet, siamese_config: TrainConfig, cnn_config: CNNConfig, out_dir: str | Path, *,
    test_fraction: float = 0.2, seed: int = 0, device: torch.device | str | None = None,
    progress: bool = True,
) -> dict[str, ClassificationResult]:
    """Table 3: the Siamese net and the CNN trained on the SAME stratified 80 % of all
    classes and scored on the same 20 % (duplicate-safe split, ``seed``)."""
    train_set, test_set = stratified_split(data, test_fraction=test_fraction, seed=seed)
    out_dir = Path(out_dir)
    siamese = siamese_prototype_6way(train_set, test_set, replace(siamese_config, seed=seed),
                                     out_dir / "siamese", device=device, progress=progress)
    cnn = train_cnn(train_set, test_set, replace(cnn_config, seed=seed), device=device,
                    out_dir=out_dir / "cnn", progress=progress)
    return {"siamese": siamese, "cnn": cnn}
