"""The baselines the paper compares against.

- :func:`knn_paper_protocol`: the authors' k = 1 nearest neighbour on 32x32 raw pixels with
  ONE support image per class (``Cr_1`` ... ``Sc_1``), scored on every image (Table 2, 28.22 %).
- :func:`raw_pixel_episodic` and :func:`lbp_episodic`: the fair versions of "no learning at
  all": raw pixels or texture histograms on the same N-way K-shot episodes as the Siamese net,
  scored by :func:`oneshot_steel.evaluate.episodic_accuracy` (nothing is implemented twice).
- The paper's supervised CNN (Tables 2 and 3) and the Table 3 protocol live in
  :mod:`oneshot_steel.supervised` and are re-exported here: :func:`train_cnn`,
  :func:`siamese_prototype_6way`, :func:`table3`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.neighbors import KNeighborsClassifier

from .data.imageset import NEU_CLASSES, ImageSet
from .errors import DataError, UnknownClassError
from .evaluate import EpisodicResult, episodic_accuracy
from .supervised import (
    CNN_PRESETS,
    ClassificationResult,
    CNNConfig,
    CNNResult,
    build_cnn,
    scored,
    siamese_prototype_6way,
    table3,
    train_cnn,
)

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
        raise ValueError(
            f"raw_pixels expects uint8 [N, 1, S, S]; got {images.dtype} {tuple(images.shape)}"
        )
    x = images.float()
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=False
        )
        x = x.round_().clamp_(0, 255)
    return x.flatten(1)


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
    protocol = (
        f"{len(data.classes)}-way 1-NN on {size}x{size} raw pixels, one support per "
        "class (files *_1), scored on all images"
    )
    return scored(
        protocol,
        labels,
        knn.predict(x),
        data.classes,
        KNNResult,
        supports=[data.paths[i] for i in sup_idx],
        image_size=data.image_size,
    )


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
        raise ValueError(
            f"lbp_features expects uint8 [N, 1, S, S]; got {images.dtype} {tuple(images.shape)}"
        )
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
    data: ImageSet,
    n_way: int = 3,
    k_shot: int = 1,
    n_query: int = 15,
    n_episodes: int = 1000,
    seed: int = 0,
    size: int = 32,
) -> EpisodicResult:
    """Raw-pixel nearest neighbour (K = 1) or nearest centroid (K > 1) on N-way K-shot episodes.

    The fair "no learning" baseline: the same episodes, classes and scorer as the Siamese
    net (:func:`~oneshot_steel.evaluate.episodic_accuracy`), with the flattened ``size`` x
    ``size`` pixels (:func:`raw_pixels`) in place of learned embeddings.
    """
    return episodic_accuracy(
        raw_pixels(data.images, size), data, n_way, k_shot, n_query, n_episodes, seed
    )


def lbp_episodic(
    data: ImageSet,
    n_way: int = 3,
    k_shot: int = 1,
    n_query: int = 15,
    n_episodes: int = 1000,
    seed: int = 0,
    features: torch.Tensor | None = None,
) -> EpisodicResult:
    """Texture baseline: :func:`lbp_features` + nearest class centroid on the same episodes.

    Pass precomputed ``features`` (``lbp_features(data.images)``) to score several episode
    settings without extracting the histograms again.
    """
    feats = lbp_features(data.images) if features is None else features
    return episodic_accuracy(feats, data, n_way, k_shot, n_query, n_episodes, seed)
