"""runtime: seeding and the CPU allocator setting that removes per-step page faults."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from oneshot_steel.runtime import keep_freed_memory, seed_everything

PAGE = resource.getpagesize()
BLOCK = 64 * 1024 * 1024  # above glibc's largest mmap threshold (32 MB), like fc1's buffers

#: Run in a fresh process, so that no heap grown by earlier tests hides glibc's behaviour:
#: allocate, fill and free the block repeatedly, print the page faults of each round.
ROUNDS = """
import json, resource, sys, torch
from oneshot_steel.runtime import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory() is True
faults = []
for _ in range(24):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.ones(int(sys.argv[2]) // 4)  # touches every page
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    del block
print(json.dumps(faults))
"""


def faults_per_round(setting: str) -> list[int]:
    """Page faults of each of 24 rounds of allocating the block, in a new process."""
    out = subprocess.run(
        [sys.executable, "-c", ROUNDS, setting, str(BLOCK)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def huge_pages_always() -> bool:
    """With transparent huge pages 'always', a fresh mmap faults in 2 MB pages (few faults)."""
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return thp.is_file() and "[always]" in thp.read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_keep_freed_memory_reuses_large_blocks_without_page_faults():
    pages = BLOCK // PAGE
    default, kept = faults_per_round("default"), faults_per_round("keep")
    if not huge_pages_always():  # glibc's default maps the block anew every round
        assert min(default[-8:]) > pages // 2, f"default allocator, faults per round: {default}"
    # The first rounds grow the heap (small allocations split the freed block, up to ~10
    # times here); then a freed block large enough is always there to be reused.
    assert max(kept[-8:]) < pages // 100, f"keep_freed_memory, faults per round: {kept}"


def test_keep_freed_memory_false_puts_the_limits_back():
    assert keep_freed_memory(True) is (sys.platform.startswith("linux"))
    assert keep_freed_memory(False) is (sys.platform.startswith("linux"))


def test_seed_everything_repeats_torch_draws():
    seed_everything(3)
    a = torch.rand(5)
    gen = seed_everything(3)
    assert torch.equal(a, torch.rand(5))
    assert torch.equal(torch.rand(5, generator=gen), torch.rand(5, generator=seed_everything(3)))
