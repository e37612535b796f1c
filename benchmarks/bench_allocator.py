"""The CPU allocator setting (``runtime.keep_freed_memory``): training steps with and without it.

glibc's ``malloc`` state is process-wide, and a heap that one setting has grown changes what
the other one does next (freed heap blocks are reused before anything is mapped anew). So,
unlike ``bench_training.py``, the two settings are never mixed in one process: each round
starts one fresh process per setting, alternately, and each process times ``--steps``
training steps of the paper preset (the package's step: bf16 autocast + channels_last on a
CPU with native bf16, as ``bench_training.Ours``) after a warm-up, and counts the minor page
faults per step (``getrusage``). Round-robin processes let a change in machine load hit
both settings alike. It also checks that the weights after the timed steps are identical in
both settings: the allocator must not change a single number.

    python benchmarks/bench_allocator.py [--rounds 3] [--steps 40] [--data PATH] [--out FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import hardware  # noqa: E402
from bench_training import Ours, load_data  # noqa: E402

from oneshot_steel.runtime import keep_freed_memory  # noqa: E402
from oneshot_steel.train import TrainConfig  # noqa: E402

SETTINGS = {"keep": True, "default": False}
WARMUP_STEPS = 5


def one_process(setting: str, steps: int, data: str | None) -> dict:
    """Time ``steps`` steps in this (fresh) process with the allocator ``setting``."""
    torch.set_num_threads(min(2, torch.get_num_threads()))
    # "default" calls nothing: mallopt would also switch off glibc's dynamic mmap threshold
    applied = keep_freed_memory() if SETTINGS[setting] else None
    torch.manual_seed(0)
    # keep_memory=None: Ours leaves the allocator alone, so this process's setting holds
    pipe = Ours(load_data(data), TrainConfig.preset("paper"), torch.device("cpu"), keep_memory=None)
    ms, faults, epoch = [], [], 0
    while len(ms) < WARMUP_STEPS + steps:
        last = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for seconds, _ in pipe.steps(epoch):
            now = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            ms.append(1000 * seconds)
            faults.append(now - last)
            last = now
            if len(ms) == WARMUP_STEPS + steps:
                break
        epoch += 1
    weights = torch.cat([p.detach().float().flatten() for p in pipe.net.parameters()])
    return {
        "setting": setting,
        "mallopt_applied": applied,
        "ms_per_step_median": statistics.median(ms[WARMUP_STEPS:]),
        "page_faults_per_step_median": statistics.median(faults[WARMUP_STEPS:]),
        "weights_sha256": hashlib.sha256(weights.numpy().tobytes()).hexdigest(),
    }


def run(rounds: int, steps: int, data: str | None) -> dict:
    """``rounds`` x (one process per setting), alternating which setting goes first."""
    machine = hardware(torch.device("cpu"))
    rows = []
    for r in range(rounds):
        order = list(SETTINGS) if r % 2 == 0 else list(reversed(SETTINGS))
        for setting in order:
            cmd = [sys.executable, __file__, "--one", setting, "--steps", str(steps)]
            cmd += ["--data", data] if data else []
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            rows.append({"round": r, **json.loads(out.strip().splitlines()[-1])})
            print(
                f"  round {r} {setting}: {rows[-1]['ms_per_step_median']:.0f} ms/step, "
                f"{rows[-1]['page_faults_per_step_median']:.0f} faults/step",
                file=sys.stderr,
            )
    med = {
        s: statistics.median(x["ms_per_step_median"] for x in rows if x["setting"] == s)
        for s in SETTINGS
    }
    return {
        "benchmark": "allocator",
        "hardware": machine,
        "load_average_at_end": list(os.getloadavg()),
        "steps_per_process": steps,
        "rows": rows,
        "ms_per_step_median": med,
        "speedup": med["default"] / med["keep"],
        "weights_identical": len({x["weights_sha256"] for x in rows}) == 1,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40, help="timed steps per process")
    parser.add_argument(
        "--data", default=None, help="data folder (default: real NEU-CLS if present)"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--one", choices=sorted(SETTINGS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # a child process: one setting, one JSON line
        print(json.dumps(one_process(args.one, args.steps, args.data)))
        return 0
    result = run(args.rounds, args.steps, args.data)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
