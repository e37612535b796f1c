"""Helpers shared by the benchmark scripts: warm-up, repeats, medians, hardware facts, and
which data they time.

Medians, not means: a single hiccup of the OS scheduler on a 2-core machine would otherwise
move the result. On CUDA every timed call is followed by ``torch.cuda.synchronize()``, since
kernels run asynchronously and the clock would otherwise stop before the work is done.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from oneshot_steel.data.paths import find_data_root


def sync(device: torch.device) -> None:
    """Wait for queued kernels on ``device`` (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(
    fn: Callable[[], Any], device: torch.device, *, warmup: int = 3, repeats: int = 10
) -> dict[str, float]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times timed with perf_counter.

    Returns the median, min and max in seconds. Warm-up absorbs one-off costs (allocator
    growth, oneDNN kernel selection, CUDA context and cuDNN autotuning).
    """
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "repeats": repeats,
    }


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform.processor()."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def hardware(device: torch.device) -> dict[str, Any]:
    """What the numbers were measured on: written next to every result."""
    info: dict[str, Any] = {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        # The vector instructions torch uses (AVX2, AVX512, ...): they decide bf16 vs float32.
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        # Other processes on the same cores slow every pipeline: record how busy the machine was.
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def resolve_device(name: str | None) -> torch.device:
    """``cpu``/``cuda``/``None`` (auto) -> a device; a clear error when CUDA is absent."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda was requested but torch sees no CUDA GPU here")
    return device


#: The shared NEU-CLS copy of this project's development machines, tried last.
SHARED_DATA = Path("/work/shared/data/neu-cls")


def benchmark_data_root(data: str | None) -> str:
    """``data``, else ``$ONESHOT_STEEL_DATA`` or the package's default folder (the package's
    :func:`~oneshot_steel.data.paths.find_data_root`), else the shared copy, else the stand-in."""
    found = find_data_root(data)
    if found is not None:
        return str(found)
    return str(SHARED_DATA) if SHARED_DATA.is_dir() else "synthetic"
