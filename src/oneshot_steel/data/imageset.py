"""`ImageSet`: the one in-memory form every loader returns and every other module consumes.

It also holds windows of signals (chapter 11: vibration): float32 ``[N, C, L]`` instead of
uint8 images, so the samplers, the training loop and the evaluation code serve both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ..errors import UnknownClassError

#: NEU-CLS class prefixes, in the fixed order the whole book uses.
NEU_CLASSES: tuple[str, ...] = ("Cr", "In", "Pa", "PS", "RS", "Sc")
#: Human-readable names of the NEU-CLS classes.
NEU_CLASS_NAMES: dict[str, str] = {
    "Cr": "crazing",
    "In": "inclusion",
    "Pa": "patches",
    "PS": "pitted surface",
    "RS": "rolled-in scale",
    "Sc": "scratches",
}


@dataclass
class ImageSet:
    """Grayscale images (or signal windows), their labels and where they came from.

    Attributes:
        images: uint8 tensor ``[N, 1, S, S]`` (0..255, not yet scaled for a model), or
            float32 signal windows ``[N, C, L]`` (see :attr:`is_signal`).
        labels: int64 tensor ``[N]``; ``labels[i]`` indexes ``classes``.
        classes: class names; NEU sets use the prefixes of :data:`NEU_CLASSES`.
        paths: source file of each image (for reports and duplicate checks).
        digests: optional content hash of each image's original pixels (duplicate detection).
        source: a short description of where the images came from.
        synthetic: True when these are the procedural stand-in, not real steel.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    paths: list[str]
    digests: list[str] | None = None
    source: str = ""
    synthetic: bool = False
    _class_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        x = self.images
        image = x.dtype == torch.uint8 and x.ndim == 4 and x.shape[1] == 1
        signal = x.dtype == torch.float32 and x.ndim == 3 and x.shape[1] >= 1
        if not (image or signal):
            raise ValueError(
                f"ImageSet.images must be a uint8 tensor [N, 1, S, S] (images) or a float32 "
                f"tensor [N, C, L] (signal windows); got {x.dtype} {tuple(x.shape)}"
            )
        n = self.images.shape[0]
        if self.labels.shape != (n,) or len(self.paths) != n:
            raise ValueError(
                f"ImageSet needs one label and one path per image: {n} images, "
                f"{tuple(self.labels.shape)} labels, {len(self.paths)} paths"
            )
        if self.digests is not None and len(self.digests) != n:
            raise ValueError(f"ImageSet has {n} images but {len(self.digests)} digests")
        self.labels = self.labels.to(torch.int64)
        self.classes = list(self.classes)
        self._class_index = {name: i for i, name in enumerate(self.classes)}

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_size(self) -> int:
        """Side length S of the square images (the window length L of signals)."""
        return int(self.images.shape[-1])

    @property
    def is_signal(self) -> bool:
        """True when this set holds float signal windows ``[N, C, L]``, not images."""
        return self.images.ndim == 3

    def class_counts(self) -> dict[str, int]:
        """Number of images per class, in class order."""
        counts = torch.bincount(self.labels, minlength=len(self.classes)).tolist()
        return dict(zip(self.classes, counts, strict=True))

    def class_index(self, name: str) -> int:
        """Index of class ``name``; a clear error when it is unknown."""
        try:
            return self._class_index[name]
        except KeyError:
            raise UnknownClassError(
                f"Unknown class {name!r}; this set has the classes {self.classes}. "
                "Use one of those names (NEU prefixes are case-sensitive: Cr, In, Pa, PS, RS, Sc)."
            ) from None

    def select(self, indices: Sequence[int] | torch.Tensor) -> ImageSet:
        """The images at ``indices`` (classes and their order unchanged)."""
        idx = torch.as_tensor(indices, dtype=torch.int64)
        idx_list = idx.tolist()
        return ImageSet(
            images=self.images[idx],
            labels=self.labels[idx],
            classes=list(self.classes),
            paths=[self.paths[i] for i in idx_list],
            digests=None if self.digests is None else [self.digests[i] for i in idx_list],
            source=self.source,
            synthetic=self.synthetic,
        )

    def subset(self, classes: Sequence[str]) -> ImageSet:
        """Only the images of ``classes``, labels re-indexed 0..len(classes)-1 in the order given."""
        classes = list(classes)
        if len(set(classes)) != len(classes):
            raise ValueError(f"subset() got a repeated class name: {classes}")
        old = [self.class_index(c) for c in classes]
        remap = torch.full((len(self.classes),), -1, dtype=torch.int64)
        remap[torch.tensor(old, dtype=torch.int64)] = torch.arange(len(old))
        new_labels = remap[self.labels]
        keep = torch.nonzero(new_labels >= 0).flatten()
        picked = self.select(keep)
        picked.labels = new_labels[keep]
        picked.classes = classes
        picked._class_index = {name: i for i, name in enumerate(classes)}
        return picked

    def __repr__(self) -> str:
        counts = ", ".join(f"{c}={n}" for c, n in self.class_counts().items())
        kind = " SYNTHETIC" if self.synthetic else ""
        src = f", source={self.source!r}" if self.source else ""
        size = f"{self.image_size}x{self.image_size}"
        what = f"windows of {self.image_size} samples" if self.is_signal else f"images of {size}"
        return f"ImageSet({len(self)}{kind} {what}, {len(self.classes)} classes [{counts}]{src})"
