"""The mixed-precision rule (oneshot_steel.precision) and that training really follows it."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
import torch

from oneshot_steel import precision
from oneshot_steel.data.imageset import ImageSet
from oneshot_steel.precision import autocast_settings, cpu_bf16_features
from oneshot_steel.train import TrainConfig, load_checkpoint, train_siamese


@pytest.fixture(scope="module")
def split(tiny_set: ImageSet) -> tuple[ImageSet, ImageSet]:
    """(train, val): held-out images of the same three training classes."""
    seen = tiny_set.subset(["RS", "Pa", "In"])
    held_out = torch.arange(len(seen)) % 4 == 0
    return seen.select(torch.nonzero(~held_out).flatten()), seen.select(
        torch.nonzero(held_out).flatten()
    )


def test_cpu_with_native_bf16_uses_bf16_and_channels_last() -> None:
    with mock.patch.object(precision, "cpu_bf16_features", return_value=["AVX512-BF16"]):
        s = autocast_settings("cpu")
    assert (s.enabled, s.dtype, s.use_grad_scaler, s.precision) == (
        True,
        torch.bfloat16,
        False,
        "bf16",
    )
    assert s.channels_last and s.memory_format == torch.channels_last
    assert "native bf16 (AVX512-BF16)" in s.reason and "channels_last" in s.reason


def test_cpu_without_native_bf16_stays_in_float32_and_says_why() -> None:
    with mock.patch.object(precision, "cpu_bf16_features", return_value=[]):
        s = autocast_settings("cpu")
    assert (s.enabled, s.dtype, s.precision) == (False, None, "fp32")
    assert s.channels_last  # the layout helps in float32 too
    assert "without native bf16" in s.reason and "emulated bf16 is slower" in s.reason


def test_switched_off_is_float32_on_every_device() -> None:
    for device in ("cpu", "mps"):
        s = autocast_settings(device, enabled=False)
        assert (s.enabled, s.dtype, s.precision) == (False, None, "fp32")
        assert s.reason.startswith("mixed precision switched off")
    assert not autocast_settings("mps").channels_last


def test_this_cpu_is_read_from_torch() -> None:
    features = cpu_bf16_features()
    assert set(features) <= {"AVX512-BF16", "AMX"}
    s = autocast_settings("cpu")
    assert s.enabled == bool(features)
    assert torch.backends.cpu.get_cpu_capability() in s.reason


def test_training_runs_in_the_chosen_precision_and_layout(split, tmp_path: Path) -> None:
    """The loop applies the decision: bf16 matmuls, channels_last conv weights."""
    train, val = split
    expected = autocast_settings("cpu")
    seen: dict[str, object] = {}

    def spy(module, inputs, output):
        seen["dtype"] = output.dtype
        seen["input_channels_last"] = inputs[0].is_contiguous(memory_format=torch.channels_last)
        seen["weight_channels_last"] = module.weight.is_contiguous(
            memory_format=torch.channels_last
        )

    config = TrainConfig.preset("smoke", epochs=1, pairs_per_epoch=32, val_pairs=32)
    original = torch.nn.Conv2d.forward

    def forward(self, x):
        out = original(self, x)
        if self.training and "dtype" not in seen:
            spy(self, (x,), out)
        return out

    with mock.patch.object(torch.nn.Conv2d, "forward", forward):
        history = train_siamese(config, train, val, tmp_path, device="cpu", progress=False)
    assert history["precision"] == expected.precision
    assert seen["dtype"] == (torch.bfloat16 if expected.enabled else torch.float32)
    assert seen["weight_channels_last"] and seen["input_channels_last"]
    net, _, _ = load_checkpoint(tmp_path)  # a channels_last checkpoint loads like any other
    assert net(torch.zeros(2, 1, 64, 64)).dtype == torch.float32


@pytest.mark.parametrize("amp", [True, False])
def test_amp_flag_is_recorded(split, tmp_path: Path, amp: bool) -> None:
    train, val = split
    config = TrainConfig.preset("smoke", epochs=1, pairs_per_epoch=32, val_pairs=32, amp=amp)
    history = train_siamese(config, train, val, tmp_path, device="cpu", progress=False)
    assert history["precision"] == (autocast_settings("cpu", amp).precision)
