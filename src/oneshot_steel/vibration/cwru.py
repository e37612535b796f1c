"""The CWRU bearing recordings (Case Western Reserve University Bearing Data Center): 12 kHz
drive-end accelerometer signals of a 2 hp motor with seeded bearing faults, read from the
MATLAB files with :func:`scipy.io.loadmat`, and the bearing's defect frequencies.

Each file is one :class:`Recording`: its class (normal, inner race, ball or outer race fault
of 0.007, 0.014 or 0.021 inch), motor load (0-3 hp) and shaft speed come from the file, and
the whole signal stays in memory (37 files of about 122,000 samples: 18 MB as float32).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError, DataNotFoundError, EmptyClassError, UnknownClassError
from ..files import repo_root

__all__ = [
    "CWRU_CLASSES",
    "DRIVE_END_BEARING",
    "FAULT_CLASSES",
    "SAMPLE_RATE",
    "VIBRATION_ENV",
    "Bearing",
    "Recording",
    "default_cwru_dir",
    "load_cwru",
    "parse_record_name",
]

#: 12,000 samples per second (the data center's 12k drive-end set).
SAMPLE_RATE = 12_000
#: The ten classes in the book's order: normal, then inner race, ball, outer race faults.
CWRU_CLASSES: tuple[str, ...] = (
    "Normal", "IR007", "IR014", "IR021", "B007", "B014", "B021", "OR007", "OR014", "OR021",
)  # fmt: skip
#: The nine fault classes (the normal baseline exists at 0 hp only).
FAULT_CLASSES: tuple[str, ...] = CWRU_CLASSES[1:]
#: The environment variable naming the recordings' folder (or "synthetic").
VIBRATION_ENV = "ONESHOT_STEEL_VIBRATION_DATA"
_NAME = re.compile(r"12k_Drive_End_(IR|B|OR)(007|014|021)(@6)?_([0-3])_(\d+)\.mat")
_NORMAL = re.compile(r"normal_([0-3])_(\d+)\.mat")


@dataclass(frozen=True)
class Bearing:
    """Rolling-element bearing geometry (inches, degrees) and its defect frequencies."""

    n_balls: int = 9
    ball_diameter: float = 0.3126
    pitch_diameter: float = 1.537
    contact_angle: float = 0.0

    def frequencies(self, rpm: float) -> dict[str, float]:
        """Shaft rate and the four defect frequencies (Hz) at ``rpm``.

        A defect on the outer race is struck by every ball that passes it (BPFO), one on
        the inner race by every ball it passes (BPFI), one on a ball hits both races each
        spin (2 x BSF); the cage turns at FTF.
        """
        fr = rpm / 60.0
        r = self.ball_diameter / self.pitch_diameter * math.cos(math.radians(self.contact_angle))
        return {
            "shaft": fr,
            "FTF": fr / 2 * (1 - r),
            "BPFO": self.n_balls * fr / 2 * (1 - r),
            "BPFI": self.n_balls * fr / 2 * (1 + r),
            "BSF": self.pitch_diameter / (2 * self.ball_diameter) * fr * (1 - r * r),
        }


#: The drive-end bearing of the CWRU rig: SKF 6205-2RS JEM deep-groove ball bearing.
DRIVE_END_BEARING = Bearing()


@dataclass
class Recording:
    """One recording: the drive-end signal and what the file says about it."""

    name: str  #: the file name
    cls: str  #: one of :data:`CWRU_CLASSES`
    load: int  #: motor load, hp
    rpm: float  #: shaft speed
    number: int  #: the data center's record number
    signal: torch.Tensor  #: float32 [n], acceleration in g
    synthetic: bool = False

    @property
    def diameter(self) -> float:
        """Fault diameter in inches (0 for the normal baseline)."""
        return 0.0 if self.cls == "Normal" else int(self.cls[-3:]) / 1000

    @property
    def fault(self) -> str:
        """``"normal"``, ``"inner race"``, ``"ball"`` or ``"outer race"``."""
        kind = self.cls.rstrip("0123456789")
        return {"Normal": "normal", "IR": "inner race", "B": "ball", "OR": "outer race"}[kind]

    def __repr__(self) -> str:
        kind = " SYNTHETIC" if self.synthetic else ""
        return (
            f"Recording({self.name!r}{kind}: {self.cls}, {self.load} hp, {self.rpm:g} rpm, "
            f"{len(self.signal):,} samples)"
        )


def parse_record_name(name: str) -> tuple[str, int, int]:
    """``(class, load, record number)`` from a file name; a clear error for other names."""
    if m := _NAME.fullmatch(name):
        return f"{m[1]}{m[2]}", int(m[4]), int(m[5])
    if m := _NORMAL.fullmatch(name):
        return "Normal", int(m[1]), int(m[2])
    raise UnknownClassError(
        f"{name!r} is not a CWRU 12 kHz drive-end file name; expected "
        "12k_Drive_End_<IR|B|OR><007|014|021>[@6]_<load 0-3>_<number>.mat or "
        "normal_<load>_<number>.mat. Rename it, or move it out of the data folder."
    )


def default_cwru_dir() -> Path:
    """Where the recordings live by default: ``data/cwru-bearings`` in the checkout."""
    root = repo_root()
    return (root if root is not None else Path.cwd()) / "data" / "cwru-bearings"


def _variable(mat: dict, path: Path, suffix: str, number: int) -> np.ndarray:
    """The variable ``X<number>_<suffix>`` (the data center pads numbers to 3 digits)."""
    found = [k for k in mat if not k.startswith("__")]
    for key in (f"X{number:03d}{suffix}", f"X{number}{suffix}"):
        if key in mat:
            return np.asarray(mat[key], dtype=np.float64).ravel()
    raise DataError(
        f"{path} has no variable X{number:03d}{suffix} (it holds {found}); the file is not "
        "the data center's record it is named after. Fetch a verified copy with "
        "`python -m oneshot_steel fetch-vibration-data`."
    )


def _read(path: Path) -> Recording:
    from scipy.io import loadmat  # scipy only when recordings are read
    from scipy.io.matlab import MatReadError

    cls, load, number = parse_record_name(path.name)
    try:
        mat = loadmat(path)
    except (OSError, ValueError, TypeError, NotImplementedError, MatReadError) as err:
        raise DataError(
            f"Cannot read {path} as a MATLAB file ({type(err).__name__}: {err}); it is damaged "
            "or not a CWRU record. Fetch a verified copy with "
            "`python -m oneshot_steel fetch-vibration-data`."
        ) from err
    signal = _variable(mat, path, "_DE_time", number)
    rpm = _variable(mat, path, "RPM", number)
    if signal.size < 4096 or not np.isfinite(signal).all() or rpm.size != 1:
        raise DataError(
            f"{path}: the drive-end signal has {signal.size} samples (non-finite: "
            f"{int((~np.isfinite(signal)).sum())}) and {rpm.size} RPM values; expected a finite "
            "signal of about 122,000 samples and one speed. The file is damaged."
        )
    return Recording(
        path.name, cls, load, float(rpm[0]), number, torch.from_numpy(signal.astype(np.float32))
    )


def load_cwru(root: str | os.PathLike, classes: tuple[str, ...] = CWRU_CLASSES) -> list[Recording]:
    """Every recording of ``classes`` in the folder ``root``, sorted by class, then load.

    Raises :class:`DataNotFoundError` for a missing folder or one without ``.mat`` files,
    :class:`UnknownClassError` for a ``.mat`` file whose name is not a CWRU record,
    :class:`EmptyClassError` when a class of ``classes`` has no recording, and
    :class:`DataError` for a file that cannot be read.
    """
    folder = Path(root).expanduser()
    fix = "Run `python -m oneshot_steel fetch-vibration-data` to get a verified copy."
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise DataNotFoundError(f"The vibration data folder {folder} {what}. {fix}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".mat")
    if not files:
        raise DataNotFoundError(f"{folder} holds no .mat files (CWRU recordings). {fix}")
    unknown = [c for c in classes if c not in CWRU_CLASSES]
    if unknown:
        raise UnknownClassError(
            f"Unknown class {unknown[0]!r}; the CWRU classes are {list(CWRU_CLASSES)}"
        )
    records = [r for r in map(_read, files) if r.cls in classes]
    empty = [c for c in classes if not any(r.cls == c for r in records)]
    if empty:
        raise EmptyClassError(
            f"{folder} holds no recording of {empty} (found {len(records)} recordings). {fix}"
        )
    records.sort(key=lambda r: (CWRU_CLASSES.index(r.cls), r.load, r.number))
    return records
