"""Chapter 11: one-shot recognition of bearing faults from vibration signals.

:mod:`.cwru` reads the CWRU recordings (and knows the bearing's defect frequencies),
:mod:`.synthetic` is the procedural stand-in, :mod:`.fetch` installs a verified copy,
:mod:`.signals` cuts windows and computes spectra, :mod:`.protocols` holds the honest
evaluation protocols. The Siamese branches for sequences are in
:mod:`oneshot_steel.sequence_nets`; training and evaluation are the book's own
(:mod:`oneshot_steel.train`, :mod:`oneshot_steel.evaluate`).
"""

from .cwru import (
    CWRU_CLASSES,
    DRIVE_END_BEARING,
    FAULT_CLASSES,
    SAMPLE_RATE,
    Bearing,
    Recording,
    load_cwru,
)
from .fetch import fetch_cwru, load_vibration, resolve_vibration_data
from .protocols import (
    PROTOCOLS,
    Protocol,
    cross_load_protocol,
    evaluate_protocol,
    leaky_split,
    segment_protocol,
    unseen_size_protocol,
)
from .signals import envelope_spectrum, log_spectrum, spectrum, statistics, window_set
from .synthetic import synthetic_recordings

__all__ = [
    "CWRU_CLASSES",
    "DRIVE_END_BEARING",
    "FAULT_CLASSES",
    "PROTOCOLS",
    "SAMPLE_RATE",
    "Bearing",
    "Protocol",
    "Recording",
    "cross_load_protocol",
    "envelope_spectrum",
    "evaluate_protocol",
    "fetch_cwru",
    "leaky_split",
    "load_cwru",
    "load_vibration",
    "log_spectrum",
    "resolve_vibration_data",
    "segment_protocol",
    "spectrum",
    "statistics",
    "synthetic_recordings",
    "unseen_size_protocol",
    "window_set",
]
