"""Data augmentation of section 4 of the paper, batched on the images' device.

Per image: a rotation by a random multiple of 90 degrees, a horizontal and a vertical flip,
each with probability 0.5, and a brightness offset ``beta ~ U(-10, 10)`` added to the 0..255
pixels and clipped (eqs. 3-4); then scaling to [-1, 1]. Rotations and flips of a square
image form the dihedral group of 8 elements, and this recipe picks each element with
probability 1/8 (h-flip followed by v-flip equals a 180-degree turn). The paper assumes the
defect class does not depend on orientation. That holds for the label but not for the image
statistics: on NEU-CLS, inclusions and crazing run mostly vertically and rolled-in scale mostly
horizontally (chapter 2 measures it), so the rotated views are plausible defects of the same
class, but not ones the camera would typically produce.

Implementation: every geometric transform is a permutation of the S*S pixel positions. We
compute the 16 (rotation, h-flip, v-flip) permutations once, by applying the ordinary
``torch.rot90``/``torch.flip`` to a grid of pixel indices, and move every image with one
``gather``: no Python loop over the batch.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from .errors import ModelInputError

__all__ = [
    "augment_batch",
    "augment_views",
    "dihedral_index_maps",
    "random_crop",
    "to_model_input",
]


def _require_uint8(images: torch.Tensor, where: str) -> None:
    if not isinstance(images, torch.Tensor):
        raise ModelInputError(f"{where} expects a uint8 torch.Tensor; got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise ModelInputError(
            f"{where} expects uint8 images with pixels 0..255 (ImageSet.images); got dtype "
            f"{images.dtype} with shape {tuple(images.shape)}. Float input is probably already "
            "scaled to [-1, 1]: augment the uint8 images before scaling, not after."
        )


def to_model_input(images_uint8: torch.Tensor) -> torch.Tensor:
    """Scale uint8 pixels to float32 in [-1, 1] (``x / 127.5 - 1``), with no augmentation.

    The test-time path: evaluation must see the images as they are, unlike the authors'
    notebooks, which also rotated and flipped the test images at random.
    """
    _require_uint8(images_uint8, "to_model_input")
    return images_uint8.to(torch.float32) / 127.5 - 1.0


def dihedral_index_maps(size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Source-pixel index of every output pixel for the 16 (k, h, v) combinations.

    Row ``4 * k + 2 * h + v`` (``k`` quarter turns counter-clockwise, ``h``/``v`` = 1 when
    horizontally/vertically flipped) is a flat ``[size * size]`` map: the transformed image
    is ``image.flatten()[map]``. Order of operations: h-flip, then v-flip, then rotation.
    """
    grid = torch.arange(size * size, device=device).reshape(size, size)
    maps = []
    for k in range(4):
        for h in (0, 1):
            for v in (0, 1):
                g = grid
                if h:
                    g = torch.flip(g, dims=(-1,))
                if v:
                    g = torch.flip(g, dims=(-2,))
                maps.append(torch.rot90(g, k, dims=(-2, -1)).reshape(-1))
    return torch.stack(maps)


@lru_cache(maxsize=8)
def _cached_dihedral_maps(size: int, device: torch.device) -> torch.Tensor:
    # Reused across batches (read-only); the maps depend only on the size and the device.
    return dihedral_index_maps(size, device)


def _apply_maps(images: torch.Tensor, which: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """``images[b]`` moved by pixel permutation ``maps[which[b]]``, for a batch ``[B, C, H, W]``."""
    b, c, h, w = images.shape
    index = maps[which][:, None, :].expand(b, c, h * w)
    return images.reshape(b, c, h * w).gather(2, index).reshape(b, c, h, w)


def _check_batch(images: torch.Tensor, where: str) -> None:
    _require_uint8(images, where)
    if images.ndim != 4:
        raise ModelInputError(
            f"{where} expects a batch [B, C, S, S]; got shape {tuple(images.shape)}"
        )


def augment_batch(
    images_uint8: torch.Tensor,
    generator: torch.Generator,
    *,
    rotate: bool = True,
    flip: bool = True,
    brightness: float = 10.0,
) -> torch.Tensor:
    """The paper's augmentation of a uint8 batch ``[B, C, S, S]`` -> float32 in [-1, 1].

    Args:
        images_uint8: pixels 0..255; S x S square when ``rotate`` is on (a quarter turn of
            a non-square image changes its shape).
        generator: the only source of randomness (seed it for reproducible runs); it must
            live on the images' device. All random numbers are drawn in one call, so the
            stream consumed does not depend on which options are switched on.
        rotate: rotate each image by ``k * 90`` degrees, ``k`` uniform in 0..3.
        flip: flip horizontally with p = 0.5 and, independently, vertically with p = 0.5.
        brightness: add ``beta ~ U(-brightness, brightness)`` per image, then clip to
            0..255 (eqs. 3-4 with 10); 0 switches it off.
    """
    _check_batch(images_uint8, "augment_batch")
    b, _, h, w = images_uint8.shape
    if rotate and h != w:
        raise ModelInputError(
            f"augment_batch rotates by 90 degrees, which needs square images; got {h}x{w} "
            f"(shape {tuple(images_uint8.shape)}). Crop or resize to square, or pass rotate=False."
        )
    if brightness < 0:
        raise ValueError(f"brightness must be >= 0; got {brightness}")
    device = images_uint8.device
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"augment_batch needs a torch.Generator; got {type(generator).__name__}")
    gdev = generator.device
    if gdev.type != device.type or (
        gdev.index is not None and device.index is not None and gdev.index != device.index
    ):
        raise ValueError(
            f"the generator is on {gdev} but the images are on {device}; create it with "
            f"torch.Generator(device=images.device).manual_seed(seed)"
        )

    u = torch.rand((b, 4), generator=generator, device=device)
    out = images_uint8
    if (rotate or flip) and b > 0:
        zeros = torch.zeros(b, dtype=torch.long, device=device)
        hflip = (u[:, 1] < 0.5).long() if flip else zeros
        vflip = (u[:, 2] < 0.5).long() if flip else zeros
        if rotate:
            k = (u[:, 0] * 4).long().clamp_(max=3)
            out = _apply_maps(out, 4 * k + 2 * hflip + vflip, _cached_dihedral_maps(h, device))
        else:  # flips keep the shape, so non-square images are fine here
            out = _apply_maps(out, 2 * hflip + vflip, _flip_maps(h, w, device))
    x = out.to(torch.float32)
    if brightness > 0:
        beta = (u[:, 3] * 2 - 1) * brightness
        x = (x + beta[:, None, None, None]).clamp_(0.0, 255.0)
    return x / 127.5 - 1.0


def _flip_maps(h: int, w: int, device: torch.device) -> torch.Tensor:
    """The 4 flip permutations (row ``2 * hflip + vflip``) of an ``h x w`` image."""
    grid = torch.arange(h * w, device=device).reshape(h, w)
    maps = []
    for hf in (0, 1):
        for vf in (0, 1):
            g = torch.flip(grid, dims=(-1,)) if hf else grid
            g = torch.flip(g, dims=(-2,)) if vf else g
            maps.append(g.reshape(-1))
    return torch.stack(maps)


def augment_views(image: torch.Tensor) -> torch.Tensor:
    """The 8 rotations/flips of one square image, ``[C, S, S]`` or ``[S, S]`` -> ``[8, ...]``.

    Order: rotations by 0, 90, 180, 270 degrees, then the same four of the horizontally
    flipped image. These are exactly the images :func:`augment_batch` can produce before
    the brightness offset. Works for any dtype (it only moves pixels).
    """
    if not isinstance(image, torch.Tensor) or image.ndim not in (2, 3):
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ModelInputError(f"augment_views expects one image [C, S, S] or [S, S]; got {shape}")
    squeeze = image.ndim == 2
    img = image[None] if squeeze else image
    c, h, w = img.shape
    if h != w:
        raise ModelInputError(f"augment_views needs a square image; got {h}x{w}")
    maps = _cached_dihedral_maps(h, img.device)
    which = torch.tensor([4 * k + 2 * hf for hf in (0, 1) for k in range(4)], device=img.device)
    views = _apply_maps(img[None].expand(8, c, h, w), which, maps)
    return views[:, 0] if squeeze else views


def random_crop(images: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """One random ``size`` x ``size`` window of each image in ``[B, C, H, W]`` (any dtype).

    Why: a texture is local, so a small window of a defect image is still an example of its
    class. Training on windows of the native 200x200 images costs a fraction of a whole
    image and gives every step new views; a net with global pooling
    (:class:`~oneshot_steel.models.CompactEmbeddingNet`) then embeds whole images at test
    time. One gather for the batch, on the images' device; ``generator`` must live there too.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ModelInputError(f"random_crop expects a batch [B, C, H, W]; got {shape}")
    b, c, h, w = images.shape
    if not 1 <= size <= min(h, w):
        raise ValueError(
            f"crop size must be between 1 and {min(h, w)} for {h}x{w} images; got {size}"
        )
    if size == h == w:
        return images
    dev = images.device
    u = torch.rand((b, 2), generator=generator, device=dev)
    top = (u[:, 0] * (h - size + 1)).long().clamp_(max=h - size)
    left = (u[:, 1] * (w - size + 1)).long().clamp_(max=w - size)
    r = torch.arange(size, device=dev)
    rows = (top[:, None] + r)[:, None, :, None]  # [B, 1, size, 1]
    cols = (left[:, None] + r)[:, None, None, :]  # [B, 1, 1, size]
    batch = torch.arange(b, device=dev)[:, None, None, None]
    chan = torch.arange(c, device=dev)[None, :, None, None]
    return images[batch, chan, rows, cols]
