"""runtime: seeding and the CPU allocator setting that removes per-step page faults."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import pytest
import torch

from oneshot_steel.runtime import keep_freed_memory, seed_everything

PAGE = resource.getpagesize()
BLOCK = 64 * 1024 * 1024  # above glibc's largest mmap threshold (32 MB), like fc1's buffers


def faults_of_second_allocation() -> int:
    """Minor page faults of allocating and filling a 64 MB tensor right after freeing one."""
    first = torch.ones(BLOCK // 4)
    del first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    second = torch.ones(BLOCK // 4)  # touches every page
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del second
    return faults


def huge_pages_always() -> bool:
    """With transparent huge pages 'always', a fresh mmap faults in 2 MB pages (few faults)."""
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return thp.is_file() and "[always]" in thp.read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_keep_freed_memory_reuses_large_blocks_without_page_faults():
    pages = BLOCK // PAGE
    assert keep_freed_memory(False) is True
    default = faults_of_second_allocation()
    if not huge_pages_always():
        assert default > pages // 2, f"glibc's default should re-fault the block: {default}"
    assert keep_freed_memory(True) is True
    kept = faults_of_second_allocation()
    assert kept < pages // 100, f"{kept} page faults for {pages} pages of a reused block"


def test_seed_everything_repeats_torch_draws():
    seed_everything(3)
    a = torch.rand(5)
    gen = seed_everything(3)
    assert torch.equal(a, torch.rand(5))
    assert torch.equal(torch.rand(5, generator=gen), torch.rand(5, generator=seed_everything(3)))
