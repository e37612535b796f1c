"""Argument types and helpers shared by the subcommands of :mod:`oneshot_steel.cli`."""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

from .errors import DataNotFoundError, EmptyClassError, OneShotSteelError, UnknownClassError


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _distance(text: str) -> float:
    """A threshold on an embedding distance: a finite number >= 0 (NaN would reject nothing)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite distance >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    """A rate or scale: a finite number > 0 (a learning rate of 0 or NaN would train nothing)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _out_dir(text: str) -> Path:
    """A folder to write into, checked before any work: not a file, and creatable/writable."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder; give a folder path")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(
            f"cannot create {text}: {parent} is a file, not a folder; give another folder path"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(
            f"cannot write to {parent} (no permission); give a folder you can write to"
        )
    return path


def json_text(obj: Any) -> str:
    """``obj`` as strict JSON (RFC 8259): a NaN or infinite float becomes ``null``."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj), allow_nan=False)


_PRESETS = ("paper", "quick", "smoke")


def _class_list(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected class names separated by commas, got {text!r}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a class is repeated in {text!r}")
    return names


def _seed_list(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 0,1,2, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct seeds like 0,1,2, got {text!r}")
    return seeds


def _add_data_arg(p: argparse.ArgumentParser, *, own_images: bool = True) -> None:
    """``--data``, and (``own_images``: the command reads sets of your own) ``--fit``."""
    p.add_argument(
        "--data",
        default=None,
        metavar="PATH",
        help="NEU-CLS folder (flat or one folder per class), any folder with one sub-folder "
        "per class, or 'synthetic' (default: $ONESHOT_STEEL_DATA, else data/neu-cls)",
    )
    if not own_images:
        return
    p.add_argument(
        "--fit",
        choices=("stretch", "crop"),
        default="stretch",
        help="images of your own that are not square: resize the whole image (stretch, the "
        "default) or its central square (crop, keeps the texture's scale)",
    )


def _device(text: str) -> str:
    import torch

    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use cpu, cuda or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r} was requested but torch sees no CUDA GPU")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text!r} was requested but MPS is not available")
    return text


def _add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        type=_device,
        default=None,
        help="cpu, cuda, cuda:1, mps (default: the best available)",
    )


def _load_data(path: str | None, size: int, fit: str = "stretch"):
    """NEU-CLS in any public layout, else a generic folder-per-class set (your own defects).

    The NEU reader is tried first; when the folder holds class folders whose names are not
    NEU classes (or not all six), it is read as a generic folder instead.
    """
    from .data import load_image_folder, load_neu  # heavy (torch): only when a command runs

    if path is None or path.strip().lower() == "synthetic":
        return load_neu(path, size=size)
    try:
        return load_neu(path, size=size)
    except (UnknownClassError, EmptyClassError, DataNotFoundError) as neu_error:
        if not Path(path).expanduser().is_dir():
            raise
        try:
            return load_image_folder(path, size=size, fit=fit)
        except OneShotSteelError as folder_error:
            # Report the reader the folder was meant for: NEU's when it recognised NEU's layout
            # and found a class empty; the generic reader's otherwise, which names the broken
            # image of a set of your own where NEU's would only say "not a NEU-CLS class".
            neu_layout = isinstance(neu_error, EmptyClassError)
            raise (neu_error if neu_layout else folder_error) from None
