"""Running a model once over images: :func:`embed`, the first step of every protocol in
:mod:`oneshot_steel.evaluate` (which re-exports it).

Each protocol also accepts a precomputed ``[N, D]`` embedding tensor instead of a model;
:func:`_embeddings` turns either into the tensor, with a shape check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .augment import to_model_input
from .data.imageset import ImageSet

__all__ = ["embed"]


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@contextmanager
def _convolutions_channels_last(model: nn.Module, on: bool) -> Iterator[None]:
    """Hold the model's 4-D (convolution) weights in the channels_last layout for a while.

    On a CPU, oneDNN runs convolutions in that layout 1.2-1.5x faster in float32 (the
    compact net on 200 px images, 2 cores, measured under load); the values, and so the arithmetic up to rounding,
    do not change. The caller's weights get their own layout back afterwards.
    """
    params = [p for p in model.parameters() if on and p.ndim == 4]
    originals = [p.data for p in params]
    try:
        for p in params:
            p.data = p.data.contiguous(memory_format=torch.channels_last)
        yield
    finally:
        for p, data in zip(params, originals, strict=True):
            p.data = data


def embed(
    model: nn.Module,
    images: ImageSet | torch.Tensor,
    batch_size: int = 512,
    device: torch.device | str | None = None,
    *,
    keep_on_device: bool = False,
) -> torch.Tensor:
    """Embeddings ``[N, D]`` (float32) of uint8 images (or float images already in [-1, 1]).

    Runs in eval mode under ``torch.inference_mode`` in batches of ``batch_size`` on
    ``device`` (the model is moved there; default: where the model already is), restoring the
    model's train/eval mode after; only one batch of images is on the device at a time. On a
    CPU, images and convolution weights are in the channels_last layout meanwhile (faster).
    Returns a CPU tensor unless ``keep_on_device``. A ``SiameseNetwork`` uses its branch.
    """
    x = images.images if isinstance(images, ImageSet) else images
    if device is not None:
        model.to(device)
    dev = _model_device(model)
    fn = model.embed if callable(getattr(model, "embed", None)) else model
    was_training = model.training
    model.eval()
    out = []
    channels_last = x.ndim == 4 and dev.type == "cpu"
    try:
        with (
            torch.inference_mode(),
            _convolutions_channels_last(model, channels_last),
        ):
            for s in range(0, x.shape[0], batch_size):
                chunk = x[s : s + batch_size].to(dev)
                chunk = to_model_input(chunk) if chunk.dtype == torch.uint8 else chunk.float()
                if channels_last:
                    chunk = chunk.contiguous(memory_format=torch.channels_last)
                out.append(fn(chunk).float())
    finally:
        model.train(was_training)
    if not out:
        raise ValueError("embed() got no images")
    emb = torch.cat(out)
    return emb if keep_on_device else emb.cpu()


def _embeddings(
    model_or_embeddings: nn.Module | torch.Tensor,
    n: int,
    images: ImageSet,
    batch_size: int,
    device: torch.device | str | None,
) -> torch.Tensor:
    """A model's embeddings of ``images``, or a given ``[N, D]`` tensor after a shape check."""
    if isinstance(model_or_embeddings, nn.Module):
        emb = embed(model_or_embeddings, images, batch_size, device)
        return finite(emb, f"the embeddings by {type(model_or_embeddings).__name__}")
    emb = model_or_embeddings
    if not isinstance(emb, torch.Tensor) or emb.ndim != 2 or emb.shape[0] != n:
        shape = tuple(emb.shape) if isinstance(emb, torch.Tensor) else type(emb).__name__
        raise ValueError(
            f"expected a model or an embedding tensor [N={n}, D] (one row per image, e.g. "
            f"images.flatten(1).float() for raw pixels); got {shape}"
        )
    return finite(emb.float(), "the embeddings given")


def finite(emb: torch.Tensor, what: str) -> torch.Tensor:
    """``emb``, or a ValueError if it holds NaN or inf: distances to NaN compare false, so a
    broken model would otherwise score chance (or fail deep in scikit-learn)."""
    bad = ~torch.isfinite(emb).all(dim=1)
    if bool(bad.any()):
        raise ValueError(
            f"{what} hold NaN or infinite values ({int(bad.sum())} of {len(emb)} images, the "
            f"first is image {int(bad.nonzero()[0])}): the model's weights are not finite (a "
            "run that blew up?). Load another checkpoint or train again."
        )
    return emb
