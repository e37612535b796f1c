"""``python -m oneshot_steel``: see :mod:`oneshot_steel.cli`."""

from .cli import main

raise SystemExit(main())
