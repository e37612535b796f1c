"""One-Shot Steel: one-shot recognition of steel surface defects with Siamese networks.

The package behind the executable book. One module per concept:

- :mod:`oneshot_steel.data`: loading NEU-CLS (or any image folder), splits, fetching, the
  synthetic stand-in;
- :mod:`oneshot_steel.augment`, :mod:`oneshot_steel.sampling`: batched on-device augmentation,
  pairs and episodes;
- :mod:`oneshot_steel.models`, :mod:`oneshot_steel.losses`, :mod:`oneshot_steel.summary`
  (what a network costs);
- :mod:`oneshot_steel.tasks` (each training step: the Siamese step is ``PairTask.loss``),
  :mod:`oneshot_steel.train` (the loop that runs them), :mod:`oneshot_steel.config` (settings);
- :mod:`oneshot_steel.evaluate`, :mod:`oneshot_steel.baselines`;
- ``python -m oneshot_steel``: the command line.
"""

__version__ = "0.1.0"
