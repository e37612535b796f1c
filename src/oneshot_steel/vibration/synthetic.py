"""A procedural stand-in for the CWRU recordings, for offline work and CI: NOT real bearings.

Each fault class has its own generator, built on what makes a real bearing fault audible:
every time a ball meets the defect it strikes the structure, which rings at a resonance and
decays. So a fault is a train of decaying bursts at its defect frequency (BPFO, BPFI or
2 x BSF of :class:`~oneshot_steel.vibration.cwru.Bearing`, with a little random slip),
amplitude-modulated where the defect moves through the load zone (inner race: once per shaft
turn; ball: once per cage turn), on top of the shaft's own vibration and sensor noise. Larger
faults strike harder and ring at a lower resonance. The normal baseline has no bursts.

The layout copies the real set: ten classes, loads 0-3 hp (the baseline at 0 hp only), the
real speeds, so every protocol of chapter 11 runs unchanged. Every recording is marked
``synthetic``; numbers measured on it say nothing about real machines.
"""

from __future__ import annotations

import numpy as np
import torch

from .cwru import CWRU_CLASSES, DRIVE_END_BEARING, SAMPLE_RATE, Recording

__all__ = ["SYNTHETIC_LENGTH", "synthetic_recordings"]

#: Samples per synthetic recording (5 s at 12 kHz; the real ones are about 10 s).
SYNTHETIC_LENGTH = 60_000
_RPM = {0: 1797.0, 1: 1772.0, 2: 1750.0, 3: 1725.0}  # the real set's speeds
_DIAMETER = {"007": (1.0, 3600.0), "014": (1.6, 3000.0), "021": (2.4, 2500.0)}  # strike, Hz


def _bursts(rng: np.random.Generator, n: int, rate: float, strike: float, ring: float,
            gain: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Decaying bursts at ``rate`` Hz (1 % random slip) ringing at ``ring`` Hz."""
    period = SAMPLE_RATE / rate
    count = int(n / period) + 2
    times = np.cumsum(period * (1 + 0.01 * rng.standard_normal(count))) + rng.uniform(0, period)
    times = times[times < n - 1].astype(np.int64)
    train = np.zeros(n)
    amp = strike * (1 + 0.2 * rng.standard_normal(len(times)))
    train[times] = amp if gain is None else amp * gain[times]
    t = np.arange(256) / SAMPLE_RATE
    kernel = np.exp(-t * 900.0) * np.sin(2 * np.pi * ring * t)
    return np.convolve(train, kernel)[:n]


def _base(rng: np.random.Generator, n: int, fr: float, load: int) -> np.ndarray:
    """Shaft vibration (1x, 2x), broadband sensor noise: what every class shares."""
    t = np.arange(n) / SAMPLE_RATE
    phase = rng.uniform(0, 2 * np.pi, 2)
    shaft = 0.05 * np.sin(2 * np.pi * fr * t + phase[0]) + 0.02 * np.sin(
        4 * np.pi * fr * t + phase[1]
    )
    return shaft + (0.06 + 0.01 * load) * rng.standard_normal(n)


def _normal(rng, n, rpm, load, size):
    return _base(rng, n, rpm / 60, load)


def _outer_race(rng, n, rpm, load, size):
    """OR: the defect sits still in the load zone: even strikes at BPFO."""
    f = DRIVE_END_BEARING.frequencies(rpm)
    strike, ring = _DIAMETER[size]
    return _base(rng, n, f["shaft"], load) + _bursts(rng, n, f["BPFO"], strike, ring)


def _inner_race(rng, n, rpm, load, size):
    """IR: strikes at BPFI, loudest when the defect turns through the load zone (1x shaft)."""
    f = DRIVE_END_BEARING.frequencies(rpm)
    strike, ring = _DIAMETER[size]
    t = np.arange(n) / SAMPLE_RATE
    gain = 0.6 + 0.4 * np.cos(2 * np.pi * f["shaft"] * t + rng.uniform(0, 2 * np.pi))
    return _base(rng, n, f["shaft"], load) + _bursts(rng, n, f["BPFI"], strike, ring, gain)


def _ball(rng, n, rpm, load, size):
    """B: a spinning ball hits both races (2 x BSF), modulated at the cage rate (FTF)."""
    f = DRIVE_END_BEARING.frequencies(rpm)
    strike, ring = _DIAMETER[size]
    t = np.arange(n) / SAMPLE_RATE
    gain = 0.5 + 0.5 * np.cos(2 * np.pi * f["FTF"] * t + rng.uniform(0, 2 * np.pi))
    burst = _bursts(rng, n, 2 * f["BSF"], 0.7 * strike, ring * 1.1, gain)
    return _base(rng, n, f["shaft"], load) + burst


_GENERATORS = {"Normal": _normal, "IR": _inner_race, "B": _ball, "OR": _outer_race}


def synthetic_recordings(seed: int = 0, length: int = SYNTHETIC_LENGTH) -> list[Recording]:
    """The stand-in: 37 recordings laid out like the real set, each marked ``synthetic``."""
    if length < 4096:
        raise ValueError(f"length must be at least 4096 samples; got {length}")
    out = []
    for k, cls in enumerate(CWRU_CLASSES):
        kind, size = cls.rstrip("0123456789"), cls[-3:]
        for load in (0,) if cls == "Normal" else (0, 1, 2, 3):
            rng = np.random.default_rng([seed, k, load])
            rpm = _RPM[load]
            signal = _GENERATORS[kind](rng, length, rpm, load, size).astype(np.float32)
            number = 1000 + 10 * k + load
            out.append(
                Recording(
                    f"SYNTHETIC_{cls}_{load}_{number}",
                    cls,
                    load,
                    rpm,
                    number,
                    torch.from_numpy(signal),
                    synthetic=True,
                )
            )
    return out
