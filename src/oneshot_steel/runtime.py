"""The run's randomness and hardware: seeding every generator, choosing the device, and
keeping the CPU's memory allocator from handing large blocks back to the OS every step."""

from __future__ import annotations

import ctypes
import ctypes.util
import random
import sys

import numpy as np
import torch

__all__ = ["default_device", "keep_freed_memory", "seed_everything"]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU ``torch.Generator`` seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - seeds code that still uses the global RNG
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def default_device() -> torch.device:
    """CUDA if present, else Apple MPS, else CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


# glibc's mallopt(3) parameters and their documented defaults.
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
KEEP_TRIM_THRESHOLD = 512 * 1024 * 1024
"""Freed memory glibc may keep at the top of the heap when :func:`keep_freed_memory` is on."""


def keep_freed_memory(keep: bool = True) -> bool:
    """Let glibc's ``malloc`` keep large freed blocks for reuse.

    Why: by default glibc serves every block over 32 MB with a fresh ``mmap`` and returns it
    to the OS on ``free``. A CPU training step of the paper's net allocates several such
    blocks (the bf16 copy of ``fc1``'s 40 M weights, its gradients), so every step faults
    78,000-96,000 new pages in, each zeroed by the kernel: about half of the step on 2 cores
    (``benchmarks/bench_allocator.py``). With ``mmap`` off and a 512 MB trim threshold, freed
    blocks stay in the heap and the next step reuses them. The numbers computed do not change.
    The cost is memory held: the heap keeps up to 512 MB of freed blocks, and small
    allocations that split a freed block make it grow for a few steps before reuse settles
    (peak RSS of the paper preset's steps 1.71 GB instead of 1.58 GB).

    Process-wide; the trainer turns it on for CPU runs. ``keep=False`` puts glibc's documented
    default limits back (mmap above 128 KB, trimming above 128 KB) but not its dynamic mmap
    threshold, which any ``mallopt`` call switches off for the rest of the process. Returns
    whether it was applied: only on Linux with glibc (elsewhere, e.g. macOS, it does nothing
    and returns ``False``).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    trim, mmap_max = (KEEP_TRIM_THRESHOLD, 0) if keep else (_DEFAULT_TRIM, _DEFAULT_MMAP_MAX)
    return bool(mallopt(_M_MMAP_MAX, mmap_max)) and bool(mallopt(_M_TRIM_THRESHOLD, trim))
