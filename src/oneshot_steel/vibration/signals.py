"""Signals to tensors: windows cut with ``unfold``, spectra, envelope spectra and statistics,
all batched (``[N, L]`` in, one ``torch.fft`` call for the whole batch, no per-window loop).

- :func:`window_set`: recordings -> an :class:`~oneshot_steel.data.imageset.ImageSet` of
  float32 windows ``[N, 1, L]``, the form every sampler, trainer and protocol takes;
- :func:`spectrum`, :func:`log_spectrum`: the magnitude spectrum (Hann window) and its log,
  the features of the strong no-learning baseline;
- :func:`envelope_spectrum`: the spectrum of the band-passed signal's envelope, where a
  bearing fault shows as lines at its defect frequency;
- :func:`statistics`: RMS, kurtosis and crest factor, the classic condition indicators.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..data.imageset import ImageSet
from .cwru import CWRU_CLASSES, SAMPLE_RATE, Recording

__all__ = [
    "FEATURES",
    "envelope_spectrum",
    "features",
    "frequencies",
    "log_spectrum",
    "spectrum",
    "statistics",
    "window_set",
    "windows",
]


def windows(signal: torch.Tensor, length: int, hop: int, part: tuple[float, float] = (0, 1)):
    """Windows ``[W, length]`` of ``signal [n]`` every ``hop`` samples, all inside the
    fraction ``part`` of the recording (e.g. ``(0.5, 1.0)``: its second half)."""
    if length < 1 or hop < 1:
        raise ValueError(f"length and hop must be >= 1; got {length}, {hop}")
    lo, hi = part
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"part must be (start, stop) with 0 <= start < stop <= 1; got {part}")
    n = signal.shape[-1]
    piece = signal[int(lo * n) : int(hi * n)]
    if piece.shape[-1] < length:
        raise ValueError(
            f"the part {part} of a recording of {n} samples holds {piece.shape[-1]} samples, "
            f"fewer than one window of {length}; use a larger part or shorter windows"
        )
    return piece.unfold(-1, length, hop)


def window_set(
    records: Sequence[Recording],
    length: int = 2048,
    hop: int = 2048,
    part: tuple[float, float] = (0.0, 1.0),
    classes: Sequence[str] = CWRU_CLASSES,
    max_per_record: int | None = None,
) -> ImageSet:
    """Windows of ``records`` (only those of ``classes``) as an ImageSet ``[N, 1, length]``.

    Labels index ``classes``; each window's ``path`` names its recording and first sample,
    so that a report can say which recording a window came from. ``max_per_record`` keeps
    that many windows of each recording, evenly spread (smoke runs).
    """
    classes = list(classes)
    chunks, labels, paths = [], [], []
    for r in records:
        if r.cls not in classes:
            continue
        w = windows(r.signal, length, hop, part)
        first = int(part[0] * len(r.signal)) + hop * torch.arange(len(w))
        if max_per_record is not None and len(w) > max_per_record:
            keep = torch.linspace(0, len(w) - 1, max_per_record).round().long()
            w, first = w[keep], first[keep]
        chunks.append(w)
        labels += [classes.index(r.cls)] * len(w)
        paths += [f"{r.name}@{s}" for s in first.tolist()]
    if not chunks:
        raise ValueError(f"no recording of the classes {classes} among the {len(records)} given")
    synthetic = any(r.synthetic for r in records)
    return ImageSet(
        images=torch.cat(chunks).unsqueeze(1).float().contiguous(),
        labels=torch.tensor(labels),
        classes=classes,
        paths=paths,
        source="SYNTHETIC vibration stand-in" if synthetic else "CWRU bearing recordings",
        synthetic=synthetic,
    )


def _rows(x: torch.Tensor | ImageSet) -> torch.Tensor:
    """``[N, L]`` float from windows ``[N, L]``, ``[N, 1, L]`` or an ImageSet of them."""
    x = x.images if isinstance(x, ImageSet) else x
    return (x.flatten(1) if x.ndim == 3 else x).float()


def frequencies(length: int, rate: int = SAMPLE_RATE) -> torch.Tensor:
    """The frequency (Hz) of each bin of :func:`spectrum` of windows of ``length``."""
    return torch.fft.rfftfreq(length, d=1.0 / rate)


def spectrum(x: torch.Tensor | ImageSet) -> torch.Tensor:
    """Magnitude spectrum ``[N, L // 2 + 1]`` of each window (Hann-tapered, mean removed)."""
    x = _rows(x)
    x = x - x.mean(dim=-1, keepdim=True)
    taper = torch.hann_window(x.shape[-1], periodic=False, device=x.device)
    return torch.fft.rfft(x * taper).abs() / x.shape[-1]


def log_spectrum(x: torch.Tensor | ImageSet) -> torch.Tensor:
    """``log`` of :func:`spectrum`, floored 60 dB below each window's peak: compares the shape
    of spectra over their whole range instead of the few loudest lines."""
    s = spectrum(x)
    return torch.log(s.clamp_min(1e-3 * s.amax(dim=-1, keepdim=True)).clamp_min(1e-12))


def envelope_spectrum(
    x: torch.Tensor | ImageSet, band: tuple[float, float] = (2000.0, 5000.0),
    rate: int = SAMPLE_RATE,
) -> torch.Tensor:  # fmt: skip
    """Spectrum ``[N, L // 2 + 1]`` of the envelope of each window, band-passed to ``band``.

    The bursts a fault makes ring in a high band; their envelope (the magnitude of the
    analytic signal, made with one FFT) repeats at the defect frequency, and so does not a
    sine. Band-pass and Hilbert transform are both one masked FFT of the whole batch.
    """
    x = _rows(x)
    n = x.shape[-1]
    f = torch.fft.fftfreq(n, d=1.0 / rate, device=x.device)
    keep = (f >= band[0]) & (f <= band[1])  # positive band only: x2 makes it analytic
    analytic = torch.fft.ifft(torch.fft.fft(x) * (2.0 * keep), dim=-1)
    return spectrum(analytic.abs())


def statistics(x: torch.Tensor | ImageSet) -> torch.Tensor:
    """``[N, 3]``: RMS, kurtosis and crest factor (peak / RMS) of each window."""
    x = _rows(x)
    c = x - x.mean(dim=-1, keepdim=True)
    var = c.pow(2).mean(dim=-1).clamp_min(1e-12)
    rms = x.pow(2).mean(dim=-1).sqrt().clamp_min(1e-12)
    kurtosis = c.pow(4).mean(dim=-1) / var.pow(2)
    crest = x.abs().amax(dim=-1) / rms
    return torch.stack([rms, kurtosis, crest], dim=-1)


def _log_statistics(x: torch.Tensor | ImageSet) -> torch.Tensor:
    return statistics(x).log()  # ratios, not differences, are what compare across loads


#: The no-learning features of the baselines: name -> function of windows, ``[N, D]`` out.
FEATURES = {
    "raw signal": _rows,
    "spectrum": spectrum,
    "log-spectrum": log_spectrum,
    "statistics": _log_statistics,
}


def features(kind: str, x: torch.Tensor | ImageSet) -> torch.Tensor:
    """The baseline features ``kind`` (a key of :data:`FEATURES`) of windows ``x``."""
    try:
        return FEATURES[kind](x)
    except KeyError:
        raise ValueError(f"unknown features {kind!r}; choose one of {list(FEATURES)}") from None
