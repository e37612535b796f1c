#!/usr/bin/env python
"""Write the procedural NEU-CLS stand-in: the same as ``python -m oneshot_steel make-synthetic``.

Usage: ``python data_scripts/make_synthetic.py [--dest DIR] [--seed N] [--per-class N]``.
Works from a checkout even before ``pip install -e .``.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from oneshot_steel.cli import main
except ImportError:  # a plain checkout: use its src/ folder
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from oneshot_steel.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["make-synthetic", *sys.argv[1:]], prog=Path(__file__).name))
