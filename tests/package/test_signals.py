"""Windows, spectra, envelope spectra and statistics, batched."""

from __future__ import annotations

import math

import pytest
import torch

from oneshot_steel.vibration.cwru import Recording
from oneshot_steel.vibration.signals import (
    envelope_spectrum,
    features,
    frequencies,
    log_spectrum,
    spectrum,
    statistics,
    window_set,
    windows,
)


def _rec(cls: str, signal: torch.Tensor, load: int = 0) -> Recording:
    return Recording(f"{cls}_{load}.mat", cls, load, 1797.0, 1, signal)


def test_windows_stay_inside_their_part() -> None:
    x = torch.arange(100.0)
    w = windows(x, 10, 5, part=(0.5, 1.0))
    assert w.shape == (9, 10) and w[0, 0] == 50 and w[-1, -1] == 99
    with pytest.raises(ValueError, match="fewer than one window"):
        windows(x, 60, 5, part=(0.5, 1.0))
    with pytest.raises(ValueError, match="part must be"):
        windows(x, 10, 5, part=(0.8, 0.2))


def test_window_set_labels_and_names_each_window() -> None:
    recs = [_rec("IR007", torch.randn(1000)), _rec("Normal", torch.randn(1000)),
            _rec("B007", torch.randn(1000))]  # fmt: skip
    s = window_set(recs, 200, 100, classes=["Normal", "IR007"], max_per_record=4)
    assert s.is_signal and s.images.shape == (8, 1, 200) and s.images.dtype == torch.float32
    assert s.labels.tolist() == [1] * 4 + [0] * 4 and s.paths[0] == "IR007_0.mat@0"
    assert "windows of 200 samples" in repr(s)
    with pytest.raises(ValueError, match="no recording of the classes"):
        window_set(recs, 200, 100, classes=["OR021"])


def test_spectrum_of_a_sine_peaks_at_its_frequency() -> None:
    t = torch.arange(4096) / 12_000
    x = torch.stack([torch.sin(2 * math.pi * 1000 * t), 3 * torch.sin(2 * math.pi * 2500 * t)])
    f = frequencies(4096)
    peaks = f[spectrum(x).argmax(dim=1)]
    assert peaks.tolist() == pytest.approx([1000, 2500], abs=3)
    ls = log_spectrum(x)
    assert torch.isfinite(ls).all() and (ls.amax(1) - ls.amin(1) <= math.log(1000) + 1e-4).all()


def test_envelope_spectrum_finds_the_rate_of_bursts() -> None:
    n, rate = 16384, 12_000
    t = torch.arange(n) / rate
    carrier = torch.sin(2 * math.pi * 3500 * t)
    bursts = carrier * (torch.sin(2 * math.pi * 120 * t) > 0.9).float()  # bursts at 120 Hz
    env = envelope_spectrum(bursts[None])[0]
    f = frequencies(n)
    band = (f > 50) & (f < 300)
    assert float(f[band][env[band].argmax()]) == pytest.approx(120, abs=1)
    assert (
        spectrum(bursts[None])[0, band].max() < 0.1 * env[band].max()
    )  # the plain spectrum: no line there


def test_statistics_of_known_signals() -> None:
    t = torch.arange(12_000) / 12_000
    sine = torch.sin(2 * math.pi * 50 * t)
    rms, kurt, crest = statistics(sine[None])[0].tolist()
    assert rms == pytest.approx(1 / math.sqrt(2), rel=1e-3)
    assert kurt == pytest.approx(1.5, rel=1e-2) and crest == pytest.approx(math.sqrt(2), rel=1e-3)
    g = torch.randn(200_000, generator=torch.Generator().manual_seed(0))
    assert float(statistics(g[None])[0, 1]) == pytest.approx(3.0, abs=0.1)
    assert features("statistics", g[None, None, :1000]).shape == (1, 3)
    with pytest.raises(ValueError, match="unknown features"):
        features("wavelets", g[None])
