"""Images as another camera or mill would take them: the same NEU test images with their
brightness, contrast, scale or sharpness changed on purpose.

A user's defects come from another line, lit and focused differently. Without such a data
set, the honest proxy is to shift the unseen test classes in controlled ways and see whether
the ranking of the methods holds (chapter 8). Every shift is applied to *all* test images,
supports and queries alike, as enrolling on a new line would; the training-class mean that
SimpleShot subtracts stays the one of the unshifted training images.

Each shift maps uint8 images ``[N, C, H, W]`` to uint8 images of the same shape:

- ``"contrast x0.5"``: each image's deviations from its own mean halved (a flat, hazy view);
- ``"brighter (gamma 0.6)"``: ``255 * (x / 255) ** 0.6``, dark pixels lifted most;
- ``"zoom 1.33x"``: the central 75 % cropped and enlarged to the full size (a closer camera,
  or a finer pixel pitch: the texture looks coarser);
- ``"half resolution"``: averaged down to half the size and interpolated back up (a coarser
  sensor or a slightly defocused lens: the finest texture is gone).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["SHIFTS", "camera_shift", "camera_shifts"]


def _contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(2, 3), keepdim=True)
    return mean + 0.5 * (x - mean)


def _gamma(x: torch.Tensor) -> torch.Tensor:
    return 255.0 * (x / 255.0) ** 0.6


def _zoom(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left = round(h / 8), round(w / 8)  # keep the central 3/4 in each direction
    centre = x[..., top : h - top, left : w - left]
    return F.interpolate(centre, size=(h, w), mode="bilinear", align_corners=False, antialias=True)


def _half_resolution(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(max(1, h // 2), max(1, w // 2)), mode="area")
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


#: Shift name -> what it does to float pixels in 0..255; "none" is the unshifted baseline.
SHIFTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "none": torch.clone,
    "contrast x0.5": _contrast,
    "brighter (gamma 0.6)": _gamma,
    "zoom 1.33x": _zoom,
    "half resolution": _half_resolution,
}


def camera_shift(images: torch.Tensor, shift: str) -> torch.Tensor:
    """``images`` (uint8 ``[N, C, H, W]``) as seen through ``shift`` (a key of :data:`SHIFTS`)."""
    if shift not in SHIFTS:
        raise ValueError(f"Unknown shift {shift!r}; choose one of {list(SHIFTS)}")
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(
            f"camera_shift needs uint8 images [N, C, H, W] (an ImageSet's .images); got "
            f"{images.dtype} of shape {tuple(images.shape)}"
        )
    if min(images.shape[-2:]) < 8:
        raise ValueError(f"images of {tuple(images.shape[-2:])} pixels are too small to shift")
    shifted = SHIFTS[shift](images.to(torch.float32))
    return shifted.round().clamp(0, 255).to(torch.uint8)


def camera_shifts(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every shift of :data:`SHIFTS` applied to ``images``, ``"none"`` first."""
    return {name: camera_shift(images, name) for name in SHIFTS}
