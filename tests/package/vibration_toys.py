"""Small CWRU-like files and recordings for the vibration tests (no real data needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import savemat


def write_record(folder: Path, name: str, n: int = 6000, seed: int = 0, **extra) -> Path:
    """A MATLAB file laid out like a CWRU record: X<num>_DE_time, X<num>_FE_time, X<num>RPM."""
    number = int(name.rsplit("_", 1)[1].split(".")[0])
    rng = np.random.default_rng(seed)
    content = {
        f"X{number:03d}_DE_time": rng.standard_normal((n, 1)),
        f"X{number:03d}_FE_time": rng.standard_normal((n, 1)),
        f"X{number:03d}RPM": np.array([[1797.0]]),
        **extra,
    }
    folder.mkdir(parents=True, exist_ok=True)
    savemat(folder / name, content)
    return folder / name
