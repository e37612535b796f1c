"""Tiny stand-ins for a trained network, shared by the package tests (import ``toys``)."""

from __future__ import annotations

import torch
from torch import nn

from oneshot_steel.data.imageset import NEU_CLASSES, ImageSet
from oneshot_steel.data.synthetic import synthetic_images


class MeanPixel(nn.Module):
    """A 1-d embedding, the mean pixel in [-1, 1]; counts the images it has seen."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.images_seen = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.images_seen += x.shape[0]
        return self.scale * x.mean(dim=(1, 2, 3))[:, None]


def flat_images(values: list[int], size: int = 8) -> torch.Tensor:
    """uint8 images of constant intensity."""
    return (
        torch.tensor(values, dtype=torch.uint8)[:, None, None, None]
        .expand(-1, 1, size, size)
        .clone()
    )


def synthetic_imageset(size: int, n: int) -> ImageSet:
    """``n`` stand-in images per NEU class at ``size`` px, built in memory (no files)."""
    images, labels = synthetic_images(seed=0, n_per_class=n, size=size)
    return ImageSet(
        torch.from_numpy(images)[:, None],
        torch.from_numpy(labels),
        list(NEU_CLASSES),
        [f"img{i}" for i in range(len(labels))],
        synthetic=True,
    )
