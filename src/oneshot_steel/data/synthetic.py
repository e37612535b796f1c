"""A procedural stand-in for NEU-CLS, so every notebook and test runs offline.

The six classes are textures that imitate the real defects (crack networks, dark inclusions,
blotchy patches, pits, rolled-in scale flakes, scratches) under varying illumination and noise.
Like the real images, they come in groups of look-alikes ("coils", see :func:`_coils`). They
are learnable but not trivial: raw-pixel 1-nearest-neighbour (32x32, 50/50 split) scores
0.43-0.51 here (seeds 0-2) against 0.56 on the real set, and with one support image per class
0.23-0.32 against 0.29; as in the real set, most errors take other classes for inclusions, and
some crazing and rolled-in scale are mixed up. Numbers measured on this stand-in say nothing about real steel;
the loaders mark it with ``synthetic=True``.

Everything is vectorised over a chunk of images (no per-pixel or per-image Python; 1,800
images take about 3 s of one CPU core), and each chunk of :data:`CHUNK` images has its own
seed, so a small set is a prefix of a larger one with the same seed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from ..files import cache_dir
from .imageset import NEU_CLASSES
from .manifest import MANIFEST_NAME, format_manifest, read_manifest, verify_neu_folder
from .paths import MARKER, is_synthetic_folder
from .staging import staging, swap_into_place

#: Bump whenever the generator's output changes: cached folders of another version are rebuilt.
SYNTHETIC_VERSION = 2
#: Images generated per seeded chunk (a set with n images is a prefix of one with more).
CHUNK = 20
#: Groups of look-alike images per class (see :func:`_coils`).
COILS = 12

_F = np.float32


def _u(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` uniform draws shaped ``[n, 1, 1]`` so they broadcast over images."""
    return rng.uniform(lo, hi, size=(n, 1, 1)).astype(_F)


def _upsample(a: np.ndarray, factor: int, axis: int, size: int) -> np.ndarray:
    """Periodic linear interpolation of a batch by an integer ``factor`` along ``axis``."""
    if factor == 1:
        return a
    m = a.shape[axis]
    t = (np.arange(size, dtype=_F) + 0.5) / factor - 0.5
    lo = np.floor(t)
    w = (t - lo).reshape((-1, 1) if axis == -2 else (1, -1))
    i0 = lo.astype(np.int64) % m
    return np.take(a, i0, axis=axis) * (1 - w) + np.take(a, (i0 + 1) % m, axis=axis) * w


def _noise(rng: np.random.Generator, n: int, size: int, sy, sx) -> np.ndarray:
    """Unit-variance Gaussian noise ``[n, S, S]`` with correlation lengths ``sy``, ``sx`` px.

    The spectrum is drawn directly (complex Gaussian times a Gaussian transfer function) on a
    grid coarsened by the correlation length, transformed once, and linearly upsampled: one
    small inverse FFT per batch, which is what makes thousands of textures take seconds.
    Per-image sigmas (arrays ``[n, 1, 1]``) give each image its own texture scale.
    """
    sy = np.broadcast_to(np.asarray(sy, dtype=_F).reshape(-1, 1, 1), (n, 1, 1))
    sx = np.broadcast_to(np.asarray(sx, dtype=_F).reshape(-1, 1, 1), (n, 1, 1))
    fy_, fx_ = (max(1, min(int(s.min() / 2.0), size // 8)) for s in (sy, sx))
    my, mx = -(-size // fy_), -(-size // fx_)
    fy = np.fft.fftfreq(my).astype(_F)[None, :, None]
    fx = np.fft.rfftfreq(mx).astype(_F)[None, None, :]
    transfer = np.exp(-2.0 * np.pi**2 * ((fy * sy / fy_) ** 2 + (fx * sx / fx_) ** 2))
    spec = rng.standard_normal((2, n, my, mx // 2 + 1), dtype=_F)
    out = np.fft.irfft2((spec[0] + 1j * spec[1]) * transfer, s=(my, mx)).astype(_F)
    out -= out.mean(axis=(1, 2), keepdims=True)
    out /= out.std(axis=(1, 2), keepdims=True) + 1e-6
    return _upsample(_upsample(out, fy_, -2, size), fx_, -1, size)[:, :size, :size]


def _grain(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Fine, nearly white grain (uniform noise with a [1, 2, 1] blur), unit variance."""
    w = rng.random((n, size + 2, size + 2), dtype=_F) - 0.5
    w = w[:, :-2] + 2 * w[:, 1:-1] + w[:, 2:]
    return (w[:, :, :-2] + 2 * w[:, :, 1:-1] + w[:, :, 2:]) * _F(1 / 3**0.5)


def _soft(x: np.ndarray) -> np.ndarray:
    """Logistic squashing, used for soft thresholds (soft edges look like real blotches)."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)  # the logistic function, without exp overflow


def _lerp(style: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map a coil's style in [0, 1] onto a parameter range."""
    return (lo + (hi - lo) * style).astype(_F)


def _surface(rng, n: int, size: int, grain: tuple[float, float], streak: float, s: float):
    """Texture shared by every class: grain and sensor noise, streaks along the rolling axis,
    mottling."""
    img = _u(rng, *grain, n) * _grain(rng, n, size)
    img += streak * _noise(rng, n, size, 40 * s, 1.5 * s)
    return img + 6.0 * _noise(rng, n, size, 25 * s, 25 * s)


def _crazing(rng, n, size, s, style):
    """Cr: a network of thin dark cracks (zero crossings of smooth noise), partly broken up."""
    img = 150 + _surface(rng, n, size, (10, 20), 4.0, s)
    field = _noise(rng, n, size, _u(rng, 4, 7, n) * s, _u(rng, 6, 10, n) * s)
    cracks = np.exp(-((field / _lerp(style, 0.10, 0.22)) ** 2))
    broken = _soft(3.0 * (_noise(rng, n, size, 10 * s, 10 * s) + _u(rng, -0.5, 1.0, n)))
    flakes = _soft(6.0 * (_noise(rng, n, size, 2 * s, 3 * s) - 2.2))
    return img - _u(rng, 25, 55, n) * cracks * broken - 30.0 * flakes


def _inclusion(rng, n, size, s, style):
    """In: sparse dark blobs elongated along the rolling direction, clustered in a band."""
    img = 110 + _surface(rng, n, size, (3, 7), 5.0, s)
    field = _noise(rng, n, size, _u(rng, 6, 14, n) * s, _u(rng, 1.5, 3, n) * s)
    blobs = _soft(8.0 * (field - _u(rng, 1.6, 2.4, n)))
    x = np.arange(size, dtype=_F)[None, None, :]
    centre = (_lerp(style, 0.15, 0.85) + _u(rng, -0.08, 0.08, n)) * size
    band = np.exp(-(((x - centre) / (_u(rng, 15, 45, n) * s)) ** 2))
    return img - _u(rng, 25, 50, n) * blobs * (0.25 + 0.75 * band)


def _patches(rng, n, size, s, style):
    """Pa: large dark blotches with soft edges on a bright, grainy surface."""
    img = 175 + _surface(rng, n, size, (12, 22), 4.0, s)
    field = _noise(rng, n, size, _u(rng, 14, 24, n) * s, _u(rng, 10, 18, n) * s)
    patches = _soft(4.0 * (field - _lerp(style, 0.0, 1.0) + _u(rng, -0.2, 0.2, n)))
    return img - _u(rng, 70, 120, n) * patches


def _pitted(rng, n, size, s, style):
    """PS: many small dark pits, denser in a few regions, on a bright surface."""
    img = 180 + _surface(rng, n, size, (4, 9), 6.0, s)
    crowd = _soft(2.0 * _noise(rng, n, size, 25 * s, 15 * s))
    field = _noise(rng, n, size, _u(rng, 1.6, 2.6, n) * s, _u(rng, 1.6, 2.6, n) * s)
    pits = _soft(5.0 * (field - _lerp(style, 2.6, 2.0) + 0.9 * crowd))
    return img - _u(rng, 50, 90, n) * pits


def _rolled(rng, n, size, s, style):
    """RS: mottled mid-gray scale with scattered irregular dark flakes (close to crazing)."""
    img = 125 + _surface(rng, n, size, (8, 14), 4.0, s)
    img += 8.0 * _noise(rng, n, size, 4 * s, 5 * s)
    field = _noise(rng, n, size, _u(rng, 2.5, 4.5, n) * s, _u(rng, 3, 6, n) * s)
    flakes = _soft(6.0 * (field - _lerp(style, 1.9, 1.2)))
    cluster = 0.35 + 0.65 * _soft(3.0 * _noise(rng, n, size, 20 * s, 20 * s))
    return img - _u(rng, 35, 65, n) * flakes * cluster


def _scratches(rng, n, size, s, style):
    """Sc: one to three long thin bright or dark lines, mostly along the rolling direction."""
    img = 100 + _surface(rng, n, size, (3, 7), 7.0, s)
    k = 3
    y = np.arange(size, dtype=_F)[None, None, :, None]
    x = np.arange(size, dtype=_F)[None, None, None, :]
    x0 = rng.uniform(0.05, 0.95, (n, k, 1, 1)).astype(_F) * size
    slope = rng.uniform(-0.08, 0.08, (n, k, 1, 1)).astype(_F)
    width = rng.uniform(0.8, 3.5, (n, k, 1, 1)).astype(_F) * s
    start = rng.uniform(-0.5, 0.5, (n, k, 1, 1)).astype(_F) * size
    stop = start + rng.uniform(0.6, 1.6, (n, k, 1, 1)).astype(_F) * size
    along = _soft((y - start) / (4 * s)) * _soft((stop - y) / (4 * s))
    sign = np.where(rng.random((n, k, 1, 1)) < 0.7, 1.0, -1.0).astype(_F)
    amp = rng.uniform(40, 100, (n, k, 1, 1)).astype(_F) * sign
    present = (np.arange(k)[None, :] < rng.integers(1, k + 1, (n, 1)))[..., None, None]
    lines = amp * present * along * np.exp(-(((x - x0 - slope * y) / width) ** 2))
    img = img + lines.sum(axis=1)
    turn = style[:, 0, 0] > 0.75  # the scratches of some coils run across the strip
    img[turn] = img[turn].transpose(0, 2, 1)
    return img


_GENERATORS: dict[str, Callable[..., np.ndarray]] = {
    "Cr": _crazing,
    "In": _inclusion,
    "Pa": _patches,
    "PS": _pitted,
    "RS": _rolled,
    "Sc": _scratches,
}


def _coils(seed: int, c: int) -> np.ndarray:
    """Per-class "coils": shared style and lighting of groups of images, like real strips.

    Real NEU images come in runs from the same strip and camera set-up, so neighbours in a
    class look alike; one random support image, though, represents only its own coil. Columns:
    style, level offset, gain, gradient angle, gradient strength, flip x, flip y.
    """
    rng = np.random.default_rng([int(seed), c, 0])
    k = COILS
    return np.stack(
        [
            rng.random(k),
            rng.normal(0, 22, k),
            rng.uniform(0.75, 1.3, k),
            rng.uniform(0, 2 * np.pi, k),
            rng.uniform(0, 50, k),
            rng.random(k) < 0.5,
            rng.random(k) < 0.5,
        ],
        axis=1,
    ).astype(_F)


def _illuminate(rng: np.random.Generator, img: np.ndarray, coil: np.ndarray) -> np.ndarray:
    """Camera effects per image (its coil's settings plus jitter), then rounding to 8 bits."""
    n, size, _ = img.shape
    p = [coil[:, i].reshape(n, 1, 1) for i in range(coil.shape[1])]
    mean = img.mean(axis=(1, 2), keepdims=True)
    gain = p[2] * _u(rng, 0.9, 1.1, n)
    img = mean + gain * (img - mean) + p[1] + rng.normal(0, 6, (n, 1, 1)).astype(_F)
    theta = p[3] + rng.normal(0, 0.3, (n, 1, 1)).astype(_F)
    coords = np.linspace(-0.5, 0.5, size, dtype=_F)
    ramp = np.cos(theta) * coords[None, None, :] + np.sin(theta) * coords[None, :, None]
    img = img + p[4] * _u(rng, 0.7, 1.3, n) * ramp
    img = np.where(p[5] > 0.5, img[:, :, ::-1], img)
    img = np.where(p[6] > 0.5, img[:, ::-1, :], img)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def synthetic_images(
    seed: int = 0, n_per_class: int = 300, size: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """The stand-in as arrays: uint8 images ``[6 * n, size, size]`` and int64 labels ``[6 * n]``.

    Labels index :data:`NEU_CLASSES`; images are grouped by class, numbered 1..n within it.
    """
    if int(n_per_class) < 1:
        raise ValueError(f"n_per_class must be at least 1; got {n_per_class}")
    if int(size) < 16:
        raise ValueError(f"size must be at least 16 pixels; got {size}")
    n, size, scale = int(n_per_class), int(size), int(size) / 200.0
    images = np.empty((len(NEU_CLASSES) * n, size, size), dtype=np.uint8)
    for c, name in enumerate(NEU_CLASSES):
        coils = _coils(seed, c)
        for j, start in enumerate(range(0, n, CHUNK)):
            rng = np.random.default_rng([int(seed), c, 1, j])
            coil = coils[rng.integers(0, COILS, CHUNK)]
            raw = _GENERATORS[name](rng, CHUNK, size, scale, coil[:, :1, None])
            block = _illuminate(rng, raw, coil)
            stop = min(start + CHUNK, n)
            images[c * n + start : c * n + stop] = block[: stop - start]
    labels = np.repeat(np.arange(len(NEU_CLASSES), dtype=np.int64), n)
    return images, labels


def make_synthetic(
    dest: str | os.PathLike, seed: int = 0, n_per_class: int = 300, size: int = 200
) -> Path:
    """Write the stand-in as NEU-named 8-bit grayscale BMPs (``Cr_1.bmp`` ...) into ``dest``.

    Also writes ``SHA256SUMS`` (same format as the real set's manifest) and the marker file
    :data:`~oneshot_steel.data.paths.MARKER`.
    The folder is built beside ``dest`` and renamed into place, so ``dest`` is never half
    written. An existing ``dest`` is replaced only when it is empty or an earlier stand-in.
    """
    dest = Path(dest).expanduser().resolve()
    if dest.exists() and not (
        dest.is_dir() and (is_synthetic_folder(dest) or not any(dest.iterdir()))
    ):
        raise DataError(
            f"{dest} exists and is not a synthetic stand-in folder; refusing to overwrite it. "
            "Choose another destination or remove that folder first."
        )
    images, labels = synthetic_images(seed, n_per_class, size)
    with staging(dest) as tmp:
        out = tmp / "synthetic"
        out.mkdir()
        sums = {}
        for i, (img, label) in enumerate(zip(images, labels, strict=True)):
            name = f"{NEU_CLASSES[label]}_{i % n_per_class + 1}.bmp"
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="BMP")
            (out / name).write_bytes(buf.getvalue())
            sums[name] = hashlib.sha256(buf.getvalue()).hexdigest()
        (out / MANIFEST_NAME).write_text(format_manifest(sums), encoding="utf-8")
        info = {
            "seed": int(seed),
            "n_per_class": int(n_per_class),
            "size": int(size),
            "version": SYNTHETIC_VERSION,
            "note": "SYNTHETIC stand-in, not real steel",
        }
        (out / MARKER).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        swap_into_place(out, dest)
    return dest


def _cached_ok(path: Path, seed: int, n_per_class: int, size: int) -> bool:
    """True when ``path`` holds a complete stand-in of this exact generator and parameters."""
    try:
        info = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return False
    want = {"seed": seed, "n_per_class": n_per_class, "size": size, "version": SYNTHETIC_VERSION}
    if any(info.get(k) != v for k, v in want.items()):
        return False
    try:  # every file present and intact (hashed once, then stamped: cheap to repeat)
        verify_neu_folder(path, read_manifest(path / MANIFEST_NAME))
    except DataError:
        return False
    return True


def ensure_synthetic(seed: int = 0, n_per_class: int = 300, size: int = 200) -> Path:
    """The cached stand-in folder ``cache_dir()/synthetic-seed{seed}-n{n}``, built on first use.

    A folder from an older generator version, or an incomplete one, is rebuilt.
    """
    suffix = "" if size == 200 else f"-s{size}"
    path = cache_dir() / f"synthetic-seed{int(seed)}-n{int(n_per_class)}{suffix}"
    if not _cached_ok(path, int(seed), int(n_per_class), int(size)):
        make_synthetic(path, seed=seed, n_per_class=n_per_class, size=size)
    return path
