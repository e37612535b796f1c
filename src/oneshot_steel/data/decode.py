"""Decoding image files to square 8-bit grayscale arrays, 16-bit images included.

8-bit images: non-grayscale modes (RGB, RGBA, palette, 1-bit) go through Pillow's
``convert("L")`` (ITU-R 601-2 luma); grayscale pixels are kept as they are.

16-bit (and 32-bit integer) grayscale images are scaled by the bit depth **of the set they are
loaded with**: every pixel is multiplied by ``255 / (2**b - 1)``, for the smallest ``b >= 8``
such that every pixel of every such image in the set is below ``2**b``. Why:

- the depth a file declares (16) says little about its data: a 12-bit camera writes 0..4095
  into a 16-bit PNG, and 8-bit values are often stored in 16-bit files. Dividing by 65535
  crushed 12-bit data to 16 grey levels and turned 8-bit data black;
- scaling each image by its own maximum would stretch a dark frame of a 12-bit camera as if
  it were 8-bit data, so two images of one camera would no longer be comparable. One depth
  for the set keeps their relative brightness, as a camera's bit depth is one for all;
- rounding up to a whole bit depth (not the exact maximum) keeps a camera's values where they
  are whether or not its brightest pixel in the set happens to saturate.

Scaling commutes with the (linear) resize, so wide images are resized first, scaled once the
set's depth is known, and rounded once.

Images that are not square are fitted to the square ``size`` one of two ways (``fit``):
``"stretch"`` resizes the whole image (every pixel kept, texture squeezed along the long side:
a 1600x256 strip squeezes it 6.25 times) and ``"crop"`` keeps the central square of side
``min(h, w)`` and resizes that (texture kept as it is, the ends of the long side dropped).
NEU's images are square, so both give the same pixels there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import BadImageError

__all__ = ["FITS", "Decoded", "decode", "stretch_warning", "to_uint8", "wide_scale"]

#: How an image that is not square becomes a ``size`` x ``size`` one (see the module docstring).
FITS = ("stretch", "crop")


@dataclass(frozen=True)
class Decoded:
    """One decoded, resized image: uint8 pixels, or (``peak`` set) wide pixels still to scale."""

    pixels: np.ndarray  #: [size, size]: uint8, or float32 on the file's own scale
    digest: str  #: SHA-256 of the original, unresized pixels (for duplicate detection)
    peak: int | None = None  #: the largest raw value of a 16/32-bit image; None for 8-bit
    shape: tuple[int, int] = (0, 0)  #: the file's own (height, width), before any fitting


def _gray(img: Image.Image, path: Path) -> np.ndarray:
    """uint8 [H, W] for 8-bit images; uint16 or uint32 for 16/32-bit integer grayscale."""
    if img.mode == "I" or img.mode.startswith("I;16"):
        wide = np.asarray(img).astype(np.int64)
        if wide.size and wide.min() < 0:
            raise BadImageError(
                f"The image {str(path)!r} holds negative pixel values ({img.mode} signed "
                "integers), which have no grey level: save it as unsigned 8 or 16 bit."
            )
        return wide.astype(np.uint16 if wide.size == 0 or wide.max() < 1 << 16 else np.uint32)
    if img.mode != "L":
        img = img.convert("L")
    return np.asarray(img, dtype=np.uint8)


def _resize(pixels: np.ndarray, size: int) -> np.ndarray:
    x = torch.from_numpy(pixels.astype(np.float32))[None, None]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x[0, 0].numpy()


def _central_square(pixels: np.ndarray) -> np.ndarray:
    h, w = pixels.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return pixels[top : top + side, left : left + side]


def decode(path: Path, size: int, fit: str = "stretch") -> Decoded:
    """Decode one file to a ``size`` x ``size`` image (see the module docstring)."""
    try:
        with Image.open(path) as img:
            img.load()  # Pillow is lazy: truncation only shows when the pixels are read
            pixels = _gray(img, path)
    except Image.DecompressionBombError as err:  # Pillow's guard against huge images
        raise BadImageError(
            f"The image {str(path)!r} is too large to load safely ({err}). Shrink it (a defect "
            "image of a few hundred pixels a side is plenty) or crop it."
        ) from err
    except (OSError, ValueError, SyntaxError) as err:
        raise BadImageError(
            f"Cannot read the image {str(path)!r} ({type(err).__name__}: {err}). The file is not "
            "an image or is corrupt/truncated: replace it with a good copy or delete it."
        ) from err
    h, w = shape = pixels.shape
    kind = "" if pixels.dtype == np.uint8 else f"{pixels.dtype.name}:"  # 8-bit: as always
    digest = hashlib.sha256(f"{h}x{w}:{kind}".encode() + pixels.tobytes()).hexdigest()
    if fit == "crop":
        pixels = _central_square(pixels)
    elif fit != "stretch":
        raise ValueError(f"fit must be one of {FITS}; got {fit!r}")
    if pixels.dtype != np.uint8:
        same = pixels.shape == (size, size)
        resized = pixels.astype(np.float32) if same else _resize(pixels, size)
        return Decoded(resized, digest, int(pixels.max()) if pixels.size else 0, shape)
    if pixels.shape == (size, size):
        return Decoded(pixels, digest, shape=shape)
    # Round in NumPy: tiny torch ops pay a thread-pool sync each, measured 5x slower on 2 busy cores.
    return Decoded(
        np.clip(np.rint(_resize(pixels, size)), 0, 255).astype(np.uint8), digest, shape=shape
    )


def wide_scale(peak: int) -> float:
    """The factor taking 16/32-bit pixels to 0..255 for a set whose largest value is ``peak``."""
    bits = max(8, int(peak).bit_length())
    return 255.0 / (2**bits - 1)


def to_uint8(images: list[Decoded]) -> np.ndarray:
    """Stack decoded images into uint8 ``[N, size, size]``, scaling the wide ones by the set's
    bit depth (see the module docstring)."""
    peaks = [d.peak for d in images if d.peak is not None]
    scale = wide_scale(max(peaks)) if peaks else 1.0
    return np.stack(
        [
            d.pixels
            if d.peak is None
            else np.clip(np.rint(d.pixels.astype(np.float64) * scale), 0, 255).astype(np.uint8)
            for d in images
        ]
    )


#: A long side more than this times the short one is stretched enough to say so.
STRETCH_WARNING = 1.25


def stretch_warning(where: str, names: list[str], shapes: list) -> str | None:
    """What to tell a user whose images ``names`` (file shapes ``(h, w)``) ``fit="stretch"``
    squeezes noticeably; None when every image is square enough."""
    ratios = [max(h, w) / min(h, w) if min(h, w) > 0 else 1.0 for h, w in shapes]
    worst = max(range(len(ratios)), key=ratios.__getitem__, default=None)
    if worst is None or ratios[worst] <= STRETCH_WARNING:
        return None
    n = sum(r > STRETCH_WARNING for r in ratios)
    h, w = shapes[worst]
    return (
        f"{n} image(s) in {where!r} are not square (e.g. {names[worst]}, {w}x{h} pixels): "
        f"resizing them to squares squeezes their texture up to {ratios[worst]:.1f} times along "
        "the long side. Pass fit='crop' (CLI: --fit crop) to keep the central square instead."
    )
