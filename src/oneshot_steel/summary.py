"""What a network costs: the shape, parameters and multiply-adds of every layer.

:func:`model_summary` measures them with one forward pass and forward hooks, so it works for
any ``nn.Module`` whose input is an image batch: the paper's branch (chapter 4), the compact
net, the quantised and pruned copies of chapter 10.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .models import SiameseNetwork

__all__ = ["LayerInfo", "ModelSummary", "model_summary"]


@dataclass(frozen=True)
class LayerInfo:
    """One row of a :class:`ModelSummary`: a leaf module and what it costs per image."""

    name: str
    kind: str
    output_shape: tuple[int, ...]  # without the batch dimension
    params: int
    macs: int  # multiply-accumulates per image (conv and linear layers; 0 for the rest)


@dataclass
class ModelSummary:
    """A per-layer table computed by running the model once with forward hooks."""

    input_shape: tuple[int, ...]
    layers: list[LayerInfo] = field(default_factory=list)
    total_params: int = 0

    @property
    def total_macs(self) -> int:
        """Multiply-accumulates for one image (FLOPs are about twice this)."""
        return sum(layer.macs for layer in self.layers)

    def layer(self, name: str) -> LayerInfo:
        """The row whose name is ``name`` or ends with ``.name``."""
        for row in self.layers:
            if row.name == name or row.name.endswith("." + name):
                return row
        raise KeyError(f"no layer {name!r}; layers: {[r.name for r in self.layers]}")

    def as_dicts(self) -> list[dict[str, Any]]:
        """Rows as dicts (``pandas.DataFrame(summary.as_dicts())`` gives a table)."""
        return [
            {
                "layer": r.name,
                "type": r.kind,
                "output shape": r.output_shape,
                "params": r.params,
                "MACs": r.macs,
            }
            for r in self.layers
        ]

    def __str__(self) -> str:
        head = f"{'layer':<18}{'type':<18}{'output shape':<18}{'params':>14}{'MACs':>16}"
        lines = [f"input {self.input_shape}", head, "-" * len(head)]
        for r in self.layers:
            shape = "x".join(str(s) for s in r.output_shape)
            lines.append(f"{r.name:<18}{r.kind:<18}{shape:<18}{r.params:>14,}{r.macs:>16,}")
        lines.append("-" * len(head))
        lines.append(f"{'total':<54}{self.total_params:>14,}{self.total_macs:>16,}")
        return "\n".join(lines)


def _macs(module: nn.Module, out: torch.Tensor) -> int:
    """Multiply-accumulates of one forward call of ``module`` for the whole batch ``out``."""
    if isinstance(module, nn.Conv2d):
        per_output = (
            (module.in_channels // module.groups) * module.kernel_size[0] * module.kernel_size[1]
        )
        return out.numel() * per_output
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    return 0


def model_summary(model: nn.Module, input_size: tuple[int, ...] = (1, 100, 100)) -> ModelSummary:
    """Shapes, parameters and multiply-adds of every leaf layer, measured by one forward pass.

    ``input_size`` is ``(C, H, W)`` (or ``(B, C, H, W)``; counts are per image either way).
    A :class:`SiameseNetwork` is summarised by its single branch, since both inputs share it.
    The paper's branch costs about 49 M multiply-adds per image, 81 % of them in ``fc1``.
    """
    if isinstance(model, SiameseNetwork):
        model = model.embedding_net
    shape = tuple(int(s) for s in input_size)
    if len(shape) == 3:
        shape = (1, *shape)
    if len(shape) != 4:
        raise ValueError(f"input_size must be (C, H, W) or (B, C, H, W); got {input_size}")
    batch = shape[0]
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32

    rows: list[LayerInfo] = []
    handles = []

    def make_hook(name: str):
        def hook(module: nn.Module, _inputs: Any, out: Any) -> None:
            if not isinstance(out, torch.Tensor):
                return
            rows.append(
                LayerInfo(
                    name=name,
                    kind=type(module).__name__,
                    output_shape=tuple(int(s) for s in out.shape[1:]),
                    params=sum(p.numel() for p in module.parameters(recurse=False)),
                    macs=_macs(module, out) // batch,
                )
            )

        return hook

    for name, module in model.named_modules():
        if next(module.children(), None) is None and name:
            handles.append(module.register_forward_hook(make_hook(name)))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(shape, device=device, dtype=dtype))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return ModelSummary(
        input_shape=shape[1:],
        layers=rows,
        total_params=sum(p.numel() for p in model.parameters()),
    )
