"""Mixed precision and memory layout: how each device runs a training step fastest.

One decision, :func:`autocast_settings`, used by every training loop (:mod:`.train`,
:mod:`.supervised`) and reported by the notebooks' setup cell, so that what a chapter says
about its device is what the code does. The measurements behind each rule are in
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["AutocastSettings", "autocast_settings", "cpu_bf16_features"]


@dataclass(frozen=True)
class AutocastSettings:
    """How a device runs the forward pass: ``dtype`` (None = float32), loss scaling, and the
    memory layout of images and convolution weights."""

    enabled: bool
    dtype: torch.dtype | None
    use_grad_scaler: bool
    reason: str
    channels_last: bool = False  #: NHWC images and conv weights (oneDNN's fast path on CPUs)

    @property
    def precision(self) -> str:
        """``"bf16"``, ``"fp16"`` or ``"fp32"``."""
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.dtype, "fp32")

    @property
    def memory_format(self) -> torch.memory_format:
        """The layout to give models and input batches (``.to(memory_format=...)``)."""
        return torch.channels_last if self.channels_last else torch.contiguous_format


def cpu_bf16_features() -> list[str]:
    """The native bfloat16 instructions of this CPU (AVX512-BF16, AMX), empty if none.

    ``torch.backends.cpu.get_cpu_capability()`` says only "AVX512" or "AVX2"; whether the
    AVX-512 unit also has the bf16 dot-product instructions needs the finer queries below.
    """
    checks = {"AVX512-BF16": "_is_avx512_bf16_supported", "AMX": "_is_amx_tile_supported"}
    found = []
    for name, query in checks.items():
        probe = getattr(torch.cpu, query, None)
        try:
            if probe is not None and probe():
                found.append(name)
        except RuntimeError:  # a build without the query's backend: treat as absent
            pass
    return found


def autocast_settings(device: torch.device | str, enabled: bool = True) -> AutocastSettings:
    """Choose mixed precision (and the memory layout) for ``device``.

    - CUDA with native bfloat16 (Ampere and newer): bf16 autocast. bf16 keeps float32's
      exponent range, so gradients cannot underflow and no loss scaling is needed.
    - CUDA without bf16 (Colab's T4, V100): fp16 autocast plus a ``GradScaler``: fp16 tensor
      cores give the speed, and scaling the loss keeps small fp16 gradients from becoming 0.
    - CPU with native bf16 instructions (AVX512-BF16 or AMX, e.g. AMD Zen 4, Intel Sapphire
      Rapids): bf16 autocast, which on the paper net's 2-core CPU step is about 1.3x faster
      alone and about 2x together with channels_last (benchmarks/RESULTS.md).
    - CPU without them (AVX2 only, e.g. most laptops and GitHub's runners): float32, because
      PyTorch then emulates bf16 and it is slower than float32.
    - On every CPU the convolutions run channels_last (NHWC), oneDNN's fast layout: 1.4x in
      float32, and most of the bf16 gain. MPS and ``enabled=False``: float32 (the CPU keeps
      channels_last, which changes the layout, not the arithmetic).
    """
    device = torch.device(device)
    on_cpu = device.type == "cpu"
    layout = " + channels_last" if on_cpu else ""
    if not enabled:
        return AutocastSettings(False, None, False, "mixed precision switched off" + layout, on_cpu)
    if on_cpu:
        capability = torch.backends.cpu.get_cpu_capability()
        features = cpu_bf16_features()
        if features:
            why = f"CPU ({capability}) with native bf16 ({', '.join(features)}): bf16{layout}"
            return AutocastSettings(True, torch.bfloat16, False, why, True)
        why = f"CPU ({capability}) without native bf16: float32{layout} (emulated bf16 is slower)"
        return AutocastSettings(False, None, False, why, True)
    if device.type != "cuda":
        return AutocastSettings(False, None, False, f"{device.type}: float32")
    native_bf16 = torch.cuda.get_device_capability(device)[0] >= 8
    if native_bf16 and torch.cuda.is_bf16_supported():
        return AutocastSettings(True, torch.bfloat16, False, "CUDA with native bf16")
    return AutocastSettings(True, torch.float16, True, "CUDA without bf16: fp16 + GradScaler")
