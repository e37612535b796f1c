"""The settings of every training run, with their presets: :class:`TrainConfig` (the
embedding nets; which of its fields may change on resume) and :class:`CNNConfig` (the
supervised CNN baseline).

They live apart from the code that uses them so that :mod:`.train`, :mod:`.tasks`,
:mod:`.checkpoint` and :mod:`.supervised` can all import them at the top: a config is read
back from every checkpoint, and the tasks read their settings from it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

from .history import SELECT_BY

__all__ = [
    "CNN_PRESETS",
    "PRESETS",
    "RECIPES",
    "RESUMABLE_FIELDS",
    "CNNConfig",
    "Recipe",
    "TrainConfig",
    "recipe",
]

#: The only config fields that may change when a run is resumed (and that may differ between
#: the ``model.pt`` and ``best.pt`` of one run): more epochs extend it, and how often it is
#: saved does not change what is computed.
RESUMABLE_FIELDS = frozenset({"epochs", "checkpoint_every"})
#: The embedding nets a TrainConfig can name (see :func:`oneshot_steel.models.build_model`).
_MODELS = ("paper", "compact", "resnet18", "wdcnn", "gru")


def _check(config: Any, rules: dict[str, tuple[str, Any]]) -> None:
    """Raise a ValueError naming the first field of ``config`` that breaks its rule: a
    setting no run can use fails here, not epochs later (or never: epochs=0 trained nothing).

    ``rules``: field -> (what it must be, in words; a test of its value).
    """
    for name, (must, ok) in rules.items():
        value = getattr(config, name)
        try:
            good = bool(ok(value))
        except (TypeError, ValueError):
            good = False
        if not good:
            raise ValueError(f"{type(config).__name__}.{name} must be {must}; got {value!r}")


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _positive(v: Any) -> bool:
    return math.isfinite(v) and v > 0


_INT = ("a whole number >= 1", _positive_int)
_POSITIVE = ("a finite number > 0", _positive)
_BRIGHTNESS = ("a finite number >= 0", lambda v: math.isfinite(v) and v >= 0)
_BETAS = ("two numbers in [0, 1)", lambda v: len(v) == 2 and all(0 <= b < 1 for b in v))


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run. The defaults are the paper's Table 1."""

    model: str = "paper"  #: "paper" (Fig. 1), "compact", "resnet18"; signals: "wdcnn", "gru"
    embedding_dim: int = 5
    width: int = 32  #: channels of the compact net's first block (ignored by "paper")
    batch_size: int = 32  #: pairs per step (Siamese training)
    epochs: int = 100
    lr: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    margin: float = 2.0  #: contrastive margin m of eq. (1)
    pairs_per_epoch: int = 900
    p_same: float = 0.5
    val_pairs: int = 900  #: fixed validation pairs (Siamese training)
    augment: bool = True
    rotate: bool = True
    flip: bool = True
    brightness: float = 10.0
    amp: bool = True  #: mixed precision where the device profits (see autocast_settings)
    seed: int = 0
    n_way: int = 3  #: episodic training: classes per episode
    k_shot: int = 1
    n_query: int = 5
    episodes_per_epoch: int = 100
    val_episodes: int = 200
    checkpoint_every: int = 1  #: epochs between checkpoints (the last epoch is always saved)
    crop_size: int = 0  #: train on random crop_size x crop_size windows (0: whole images)
    ssl_batch: int = 48  #: self-supervised training: images per step (two views each)
    temperature: float = 0.2  #: self-supervised training: NT-Xent temperature
    pretrained: bool = False  #: "resnet18": start from ImageNet weights when they can be had
    simpleshot: bool = False  #: "compact": keep SimpleShot's base-class mean in the net (ch. 8)
    #: with ``simpleshot``: whiten by the training classes' within-class spread, this strength
    #: (``metric.within_class_whitening``); 0: off
    within_class_whitening: float = 0.0
    #: with ``simpleshot``: also embed each image at half size, centred (and whitened) apart,
    #: the two joined: sturdier under a softer camera, 1.3-1.4x the query time (ch. 8)
    coarse_view: bool = False
    #: what picks the best epoch on the validation images: "val_loss" (lowest) or
    #: "val_accuracy" (highest, ties to the lower loss; see history.record_epoch)
    select_epoch_by: str = "val_loss"

    def __post_init__(self) -> None:
        ints = ("embedding_dim", "width", "batch_size", "epochs", "pairs_per_epoch", "val_pairs")
        ints += ("n_way", "k_shot", "n_query", "episodes_per_epoch", "val_episodes")
        _check(
            self,
            {
                "model": ("one of " + ", ".join(map(repr, _MODELS)), lambda v: v in _MODELS),
                **dict.fromkeys(ints, _INT),
                "checkpoint_every": _INT,
                "lr": _POSITIVE,
                "betas": _BETAS,
                "margin": _POSITIVE,
                "p_same": ("a probability in [0, 1]", lambda v: 0 <= v <= 1),
                "brightness": _BRIGHTNESS,
                "crop_size": ("0 (whole images) or a size >= 1", lambda v: v >= 0),
                "ssl_batch": ("a whole number >= 2", lambda v: _positive_int(v) and v >= 2),
                "temperature": _POSITIVE,
                "simpleshot": (
                    "False unless model is 'compact'",
                    lambda v: not v or self.model == "compact",
                ),
                "within_class_whitening": (
                    "0 (off), or a finite number > 0 together with simpleshot=True",
                    lambda v: v == 0 or (_positive(v) and self.simpleshot),
                ),
                "coarse_view": (
                    "False unless simpleshot=True (a view of the recipe `best`: use "
                    "--recipe best --coarse-view)",
                    lambda v: not v or self.simpleshot,
                ),
                "select_epoch_by": (" or ".join(map(repr, SELECT_BY)), lambda v: v in SELECT_BY),
            },
        )

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> TrainConfig:
        """``"paper"``, ``"quick"`` or ``"smoke"`` (see :data:`PRESETS`), then ``overrides``."""
        try:
            base = PRESETS[name]
        except KeyError:
            raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
        return replace(base, **overrides)

    @classmethod
    def recipe(cls, name: str, preset: str = "quick", **overrides: Any) -> TrainConfig:
        """The config of recipe ``name`` (e.g. ``"best"``, see :data:`RECIPES`) at ``preset``'s
        length; :func:`recipe` also gives its training kind and image size."""
        return replace(recipe(name).config(preset), **overrides)

    def to_dict(self) -> dict[str, Any]:
        """Plain builtins only (betas as a list), so ``weights_only`` loading can read it."""
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys (from newer versions) are ignored."""
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        if "betas" in kw:
            kw["betas"] = tuple(kw["betas"])
        return cls(**kw)


#: ``paper``: Table 1 exactly (Fig. 1 net, 5-d embedding, batch 32, 100 epochs of 900 pairs,
#: Adam 5e-4 (0.9, 0.999), margin 2), plus the augmentation of section 4. Checkpoints every 10
#: epochs: model.pt holds 40 M weights and their Adam moments (0.48 GB), and on a GPU an epoch
#: takes about as long as writing it.
#: ``quick``: the paper recipe with 10 epochs instead of 100 and nothing else changed (same
#: model, batch, lr, margin, 900 pairs per epoch, augmentation): about 5-9 minutes on 2 CPU cores.
#: ``smoke``: a CI check only: the compact net (width 8, 16-d embedding), 2 epochs of 64 pairs,
#: 64 validation pairs, 10 training and 20 validation episodes (or self-supervised steps of 16
#: images); seconds on a CPU.
PRESETS: dict[str, TrainConfig] = {
    "paper": TrainConfig(checkpoint_every=10),
    "quick": TrainConfig(epochs=10),
    "smoke": TrainConfig(
        model="compact",
        embedding_dim=16,
        width=8,
        epochs=2,
        pairs_per_epoch=64,
        val_pairs=64,
        episodes_per_epoch=10,
        val_episodes=20,
        n_query=3,
        ssl_batch=16,
    ),
}


@dataclass(frozen=True)
class CNNConfig:
    """Settings of the supervised CNN baseline. Defaults: the authors' CNN notebook."""

    model: str = "paper"  #: "paper" (Fig. 1 trunk, 6 logits) or "compact" (small BN net)
    width: int = 32  #: channels of the compact net's first block (ignored by "paper")
    batch_size: int = 128
    epochs: int = 120
    samples_per_epoch: int | None = None  #: None: every training image once per epoch
    lr: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    augment: bool = True  #: the paper's rotations, flips and brightness, training only
    brightness: float = 10.0
    amp: bool = True  #: mixed precision where the device profits (train.autocast_settings)
    seed: int = 0
    # Fixed, not settings (so not in to_dict nor in cnn.pt): the CNN always sees whole images
    # with all of the paper's augmentation. The training tasks read them as they read a
    # TrainConfig's fields of the same names.
    rotate: ClassVar[bool] = True
    flip: ClassVar[bool] = True
    crop_size: ClassVar[int] = 0

    def __post_init__(self) -> None:
        _check(
            self,
            {
                "model": ("'paper' or 'compact'", lambda v: v in ("paper", "compact")),
                **dict.fromkeys(("width", "batch_size", "epochs"), _INT),
                "samples_per_epoch": ("None or " + _INT[0], lambda v: v is None or _INT[1](v)),
                "lr": _POSITIVE,
                "betas": _BETAS,
                "brightness": _BRIGHTNESS,
            },
        )

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> CNNConfig:
        """``"paper"``, ``"quick"`` or ``"smoke"`` (same names as ``TrainConfig.preset``)."""
        try:
            base = CNN_PRESETS[name]
        except KeyError:
            raise ValueError(
                f"Unknown preset {name!r}; choose one of {sorted(CNN_PRESETS)}"
            ) from None
        return replace(base, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """Plain builtins (betas as a list), storable in a ``weights_only`` checkpoint."""
        return {**asdict(self), "betas": list(self.betas)}


#: ``paper``: batch 128, Adam 5e-4, 120 epochs (the authors' notebook). ``quick``: 15 epochs.
#: ``smoke``: 3 epochs of 256 images: a seconds-long CI check on small images (32 px), not a
#: result. (The compact net is no good here: its BatchNorm statistics need more steps.)
CNN_PRESETS: dict[str, CNNConfig] = {
    "paper": CNNConfig(),
    "quick": CNNConfig(epochs=15),
    "smoke": CNNConfig(epochs=3, samples_per_epoch=256),
}


@dataclass(frozen=True)
class Recipe:
    """A named way to train: the loss (``kind``), the input size and one config per preset.

    The checkpoint of a recipe's run holds all that inference needs (the net, its input size,
    the SimpleShot mean), so ``evaluate`` and :class:`~oneshot_steel.classifier.OneShotClassifier`
    use it as they use any other run.
    """

    name: str
    kind: str  #: "siamese", "episodic" or "selfsup" (see :func:`oneshot_steel.train.train_or_load`)
    image_size: int  #: the images it trains on and reads at test time, at the quick/paper length
    presets: dict[str, TrainConfig]
    smoke_image_size: int = 64
    summary: str = ""

    def config(self, preset: str) -> TrainConfig:
        try:
            return self.presets[preset]
        except KeyError:
            raise ValueError(
                f"Unknown preset {preset!r} for recipe {self.name!r}; choose one of "
                f"{sorted(self.presets)}"
            ) from None

    def size(self, preset: str) -> int:
        """The image size of ``preset`` (smoke runs on small images, in seconds)."""
        return self.smoke_image_size if preset == "smoke" else self.image_size


# Chapter 8's best recipe: the compact net trained with NT-Xent on 64 px windows of 200 px
# images, SimpleShot centring kept in the net. ``paper`` is its full (reference) length. The
# epoch is the one whose SimpleShot features are most often right on 2,000 3-way 1-shot
# episodes of the validation images (on the reverse split, where recipes are chosen, the
# prototypical loss of unit-length features ranked epochs worse; on the paper's split the
# two tie within the seed spread: benchmarks/RESULTS.md, 2026-12-05).
_SSL = TrainConfig(
    model="compact",
    width=32,
    embedding_dim=64,
    crop_size=64,
    lr=1e-3,
    epochs=4,
    episodes_per_epoch=50,
    val_episodes=2000,  # 1-shot validation episodes: their accuracy picks the epoch
    n_way=3,
    k_shot=1,
    n_query=15,
    ssl_batch=48,
    temperature=0.2,
    simpleshot=True,
    within_class_whitening=10.0,
    select_epoch_by="val_accuracy",
)
#: The named recipes. ``"best"`` is the alias of the book's best one-shot model (chapter 8).
RECIPES: dict[str, Recipe] = {
    "paper": Recipe("paper", "siamese", 100, dict(PRESETS), 100, "the paper's Siamese net"),
    "selfsup-windows": Recipe(
        "selfsup-windows",
        "selfsup",
        200,
        {
            "quick": _SSL,
            "paper": replace(_SSL, epochs=10, episodes_per_epoch=100),
            "smoke": replace(
                _SSL,
                width=8,
                embedding_dim=16,
                crop_size=32,
                epochs=2,
                episodes_per_epoch=4,
                val_episodes=20,
                n_query=3,
                ssl_batch=16,
            ),
        },
        summary=(
            "compact net, NT-Xent on 64 px windows of 200 px images, SimpleShot and a "
            "within-class whitening in the net"
        ),
    ),
}
_ALIASES = {"best": "selfsup-windows"}


def recipe(name: str) -> Recipe:
    """The recipe called ``name`` (``"best"`` is an alias of the book's best model)."""
    try:
        return RECIPES[_ALIASES.get(name, name)]
    except KeyError:
        choices = sorted([*RECIPES, *_ALIASES])
        raise ValueError(f"Unknown recipe {name!r}; choose one of {choices}") from None
