"""The vibration stand-in: laid out like the real set, labelled, and physically plausible."""

from __future__ import annotations

import pytest
import torch

from oneshot_steel.vibration.cwru import CWRU_CLASSES, DRIVE_END_BEARING
from oneshot_steel.vibration.signals import envelope_spectrum, frequencies, statistics
from oneshot_steel.vibration.synthetic import synthetic_recordings


@pytest.fixture(scope="module")
def records():
    return synthetic_recordings(length=20_000)


def test_layout_copies_the_real_set_and_says_synthetic(records) -> None:
    assert len(records) == 37 and all(r.synthetic for r in records)
    assert {r.cls for r in records} == set(CWRU_CLASSES)
    assert [r.load for r in records if r.cls == "Normal"] == [0]
    assert all(r.name.startswith("SYNTHETIC_") and "SYNTHETIC" in repr(r) for r in records)
    again = synthetic_recordings(length=20_000)
    assert all(torch.equal(a.signal, b.signal) for a, b in zip(records, again, strict=True))
    with pytest.raises(ValueError, match="at least 4096"):
        synthetic_recordings(length=100)


def test_faults_ring_at_their_defect_frequency(records) -> None:
    def peak(cls: str) -> float:
        r = next(r for r in records if r.cls == cls and r.load == 0)
        env = envelope_spectrum(r.signal[None, :16384])[0]
        f = frequencies(16384)
        band = (f > 60) & (f < 300)
        return float(f[band][env[band].argmax()])

    f = DRIVE_END_BEARING.frequencies(1797)
    assert peak("IR021") == pytest.approx(f["BPFI"], rel=0.03)
    assert peak("OR021") == pytest.approx(f["BPFO"], rel=0.03)
    kurt = {r.cls: float(statistics(r.signal[None])[0, 1]) for r in records if r.load == 0}
    assert kurt["Normal"] < 3.5 < kurt["OR021"]
