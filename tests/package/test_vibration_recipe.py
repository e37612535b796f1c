"""The vibration training settings, and the ch11 self-check."""

from __future__ import annotations

import math

import pytest

from oneshot_steel.checks import CheckFailed, check
from oneshot_steel.vibration.recipe import VIBRATION_PRESETS, vibration_config


def test_configs_for_sequence_branches() -> None:
    for preset in VIBRATION_PRESETS:
        config = vibration_config(preset, "gru", "prototypical", seed=3, epochs=2)
        assert config.model == "gru" and not config.augment and config.seed == 3
        assert config.epochs == 2 and config.episodes_per_epoch >= 1
    with pytest.raises(ValueError, match="Unknown preset"):
        vibration_config("huge")
    with pytest.raises(ValueError, match="for signals"):
        vibration_config("smoke", "paper")
    with pytest.raises(ValueError, match="loss must be"):
        vibration_config("smoke", loss="triplet")


def _right(rpm, n, d, D, angle):  # noqa: N803  (the bearing's usual symbols)
    fr, r = rpm / 60, d / D * math.cos(math.radians(angle))
    return {"shaft": fr, "BPFO": n * fr / 2 * (1 - r), "BPFI": n * fr / 2 * (1 + r)}


def test_ch11_check_passes_the_formula_and_explains_mistakes() -> None:
    assert check("ch11.defect_frequencies", _right)
    swapped = lambda *a: {**_right(*a), "BPFO": _right(*a)["BPFI"]}  # noqa: E731
    with pytest.raises(CheckFailed, match="expected BPFO"):
        check("ch11.defect_frequencies", swapped)
    degrees = lambda rpm, n, d, D, a: _right(rpm, n, d, D, math.degrees(a))  # noqa: E731, N803
    with pytest.raises(CheckFailed, match="contact angle 15"):
        check("ch11.defect_frequencies", degrees)
    with pytest.raises(CheckFailed, match="a dict with the keys"):
        check("ch11.defect_frequencies", lambda *a: 1.0)
    assert not check("ch11.defect_frequencies", ...)
