"""Putting a trained embedding network on an inspection line: operating point, int8, export, timing.

- :func:`rejection_curve` and :func:`cheapest_threshold`: the false-accept / false-reject
  trade-off of "accept a part iff its nearest enrolled class is within ``t``" (the rule of
  :class:`~oneshot_steel.classifier.OneShotClassifier`), at every threshold at once.
- :func:`quantize_dynamic_int8`: int8 weights for every ``nn.Linear`` (PyTorch dynamic
  quantization), and :func:`model_size_bytes` to see what it saves.
- :func:`quantize_static_int8`: the whole convolutional net in int8, activations included,
  calibrated on training images: the fastest CPU query of the recipe ``best``.
- :func:`optimise_for_cpu`: the same arithmetic, faster on a CPU: BatchNorm folded into the
  convolutions, frozen TorchScript, channels_last (for the convolutional nets, e.g. ``best``).
- :func:`time_inference`: batch latency and throughput, repeated, with device synchronisation.
- :func:`export_torchscript` and :func:`export_onnx` (with :class:`OnnxEmbeddingNet` to run
  the ONNX file behind the ``nn.Module`` interface, so :func:`~oneshot_steel.evaluate.embed`,
  episodes and the classifier work on an exported model unchanged), from
  :mod:`oneshot_steel.export`.

Evaluation itself (embedding, episodes, thresholds by accuracy) stays in
:mod:`oneshot_steel.evaluate`; nothing here re-implements it.
"""

from __future__ import annotations

import copy
import io
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .errors import ModelInputError, OneShotSteelError
from .export import (
    OnnxEmbeddingNet,
    _quiet_deprecations,
    export_onnx,
    export_torchscript,
    load_torchscript,
    onnx_available,
)
from .metric import finish_feature, join_views, shrink_by_half
from .truncate import cap

__all__ = [
    "OnnxEmbeddingNet",
    "RejectionCurve",
    "Timing",
    "cheapest_threshold",
    "export_onnx",
    "export_torchscript",
    "load_torchscript",
    "model_size_bytes",
    "onnx_available",
    "optimise_for_cpu",
    "quantize_dynamic_int8",
    "quantize_static_int8",
    "rejection_curve",
    "time_inference",
]


# ----------------------------------------------------------------------------- operating point
def _distances(d: torch.Tensor | np.ndarray | list[float], name: str) -> torch.Tensor:
    t = torch.as_tensor(d, dtype=torch.float64).detach().cpu().flatten()
    if t.numel() == 0:
        raise ValueError(f"{name} is empty: give at least one distance of a known/unknown part")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} holds NaN or infinite distances; check the embeddings")
    return t


def _candidate_thresholds(d_known: torch.Tensor, d_unknown: torch.Tensor) -> torch.Tensor:
    """Every threshold that can change a decision: midway between neighbouring distinct
    distances, plus one below all (accept nothing) and one above all (accept everything)."""
    d = torch.unique(torch.cat([d_known, d_unknown]))  # sorted
    return torch.cat([d[:1] - 1.0, (d[:-1] + d[1:]) / 2, d[-1:] + 1.0])


@dataclass
class RejectionCurve:
    """False-accept and false-reject rates of "accept iff distance <= t" for each threshold t."""

    thresholds: torch.Tensor  #: [T] float64, increasing
    false_accept: torch.Tensor  #: [T] share of unknown parts accepted (given a known label)
    false_reject: torch.Tensor  #: [T] share of known parts rejected (sent to a person)
    n_known: int
    n_unknown: int


def rejection_curve(
    d_known: torch.Tensor | np.ndarray | list[float],
    d_unknown: torch.Tensor | np.ndarray | list[float],
    thresholds: torch.Tensor | np.ndarray | list[float] | None = None,
) -> RejectionCurve:
    """The trade-off of a rejection threshold, as OneShotClassifier applies it (reject iff d > t).

    ``d_known``: distance of each part of an ENROLLED class to its nearest enrolled class;
    ``d_unknown``: the same for parts of classes that were never enrolled. ``thresholds``
    default to every threshold at which a decision changes. Two sorted arrays and a binary
    search give all rates at once, whatever the number of thresholds.
    """
    known, unknown = _distances(d_known, "d_known"), _distances(d_unknown, "d_unknown")
    if thresholds is None:
        t = _candidate_thresholds(known, unknown)
    else:
        t = torch.sort(torch.as_tensor(thresholds, dtype=torch.float64).flatten()).values
    accepted_known = torch.searchsorted(torch.sort(known).values, t, right=True)  # d <= t
    accepted_unknown = torch.searchsorted(torch.sort(unknown).values, t, right=True)
    return RejectionCurve(
        thresholds=t,
        false_accept=accepted_unknown.double() / unknown.numel(),
        false_reject=1.0 - accepted_known.double() / known.numel(),
        n_known=known.numel(),
        n_unknown=unknown.numel(),
    )


def cheapest_threshold(
    d_known: torch.Tensor | np.ndarray | list[float],
    d_unknown: torch.Tensor | np.ndarray | list[float],
    cost_false_accept: float = 1.0,
    cost_false_reject: float = 1.0,
) -> tuple[float, float]:
    """``(threshold, total cost)`` minimising ``cost_false_accept * (unknown parts accepted) +
    cost_false_reject * (known parts rejected)`` over every threshold; ties keep the smallest.

    With equal costs this maximises the share of right accept/reject decisions, the rule of
    :meth:`OneShotClassifier.choose_rejection_threshold`. On a line, a false accept (an unknown
    defect shipped under a known label) usually costs far more than a false reject (a part a
    person looks at), and the costs move the threshold accordingly.
    """
    if cost_false_accept < 0 or cost_false_reject < 0:
        raise ValueError(
            f"costs must be >= 0; got cost_false_accept={cost_false_accept}, "
            f"cost_false_reject={cost_false_reject}"
        )
    curve = rejection_curve(d_known, d_unknown)
    cost = (
        cost_false_accept * curve.false_accept * curve.n_unknown
        + cost_false_reject * curve.false_reject * curve.n_known
    )
    i = int(torch.argmin(cost))  # first minimum: the smallest threshold among equals
    return float(curve.thresholds[i]), float(cost[i])


# ----------------------------------------------------------------------------- int8 and size
def quantize_dynamic_int8(model: nn.Module) -> nn.Module:
    """A CPU copy of ``model`` whose ``nn.Linear`` layers store int8 weights (dynamic quantization).

    Each weight matrix is stored as int8 with one float scale; at run time every batch of
    activations is quantized on the fly and the product runs in int8. Convolutions and
    everything else stay float32. The kernels exist for CPUs only (x86 fbgemm/onednn, ARM
    qnnpack), so the copy lives on the CPU; ``model`` itself is not changed.
    """
    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError as err:  # pragma: no cover - present in every torch this package supports
        raise OneShotSteelError(
            "This torch has no torch.ao.quantization.quantize_dynamic; install the `torchao` "
            "package and use torchao.quantization.quantize_ with Int8DynamicActivationInt8Weight."
        ) from err
    cpu_copy = copy.deepcopy(model).to("cpu").eval()
    with _quiet_deprecations():
        return quantize_dynamic(cpu_copy, {nn.Linear}, dtype=torch.qint8)


class _StaticInt8(nn.Module):
    """An int8 body (frozen TorchScript) run on each view of the image (the image, and its
    half size when the net has a coarse view), then the net's SimpleShot centring,
    normalisation and within-class whitening of each view (when it has them) in float."""

    def __init__(
        self,
        body: torch.jit.ScriptModule,
        views: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]],
    ):
        super().__init__()
        self.body = body
        self.n_views = len(views)
        for i, buffers in enumerate(views):
            for name, b in zip(("mean", "metric_mean", "metric"), buffers, strict=True):
                self.register_buffer(f"view{i}_{name}", b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        images = [x, shrink_by_half(x)] if self.n_views == 2 else [x]
        raw = [self.body(v.contiguous(memory_format=torch.channels_last)) for v in images]
        if self.n_views == 0:
            return raw[0]
        return join_views(
            [
                finish_feature(
                    f,
                    getattr(self, f"view{i}_mean"),
                    getattr(self, f"view{i}_metric_mean"),
                    getattr(self, f"view{i}_metric"),
                )
                for i, f in enumerate(raw)
            ]
        )


def quantize_static_int8(
    model: nn.Module, calibration_images: torch.Tensor, *, engine: str = "onednn"
) -> nn.Module:
    """A CPU copy of a compact net with int8 weights AND activations, for fast batch-1 queries.

    ``calibration_images`` (uint8 ``[N, C, H, W]``, images of the TRAINING classes, a few
    hundred) are run through the net once to choose every layer's activation range
    (histogram observers; one weight scale per output channel). Every convolution (BatchNorm
    and ReLU fused into it), pooling and the head then run in int8 (oneDNN; VNNI instructions
    where the CPU has them), several times faster than :func:`optimise_for_cpu`, because
    8-bit activations move a quarter of the bytes. SimpleShot's centring and normalisation
    stay float. Rounding to 8 bits changes the embeddings a little: check the accuracy of
    what it returns (``benchmarks/bench_best.py`` does). ``engine="onednn"`` keeps the full
    8-bit range of the activations (``"x86"`` and ``"fbgemm"`` use 7 bits, to be safe on CPUs
    without VNNI). ``model`` itself is not changed. Uses PyTorch's FX graph-mode quantization.
    """
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    from .augment import to_model_input

    if not (hasattr(model, "features") and isinstance(getattr(model, "head", None), nn.Linear)):
        raise OneShotSteelError(
            f"quantize_static_int8 needs a compact net (a `features` stack and a linear "
            f"`head`, e.g. the recipe `best`); got {type(model).__name__}. For other nets use "
            f"quantize_dynamic_int8 or optimise_for_cpu."
        )
    if engine not in torch.backends.quantized.supported_engines:
        raise OneShotSteelError(
            f"quantization engine {engine!r} is not available in this torch; choose one of "
            f"{torch.backends.quantized.supported_engines}"
        )
    x = calibration_images
    if not isinstance(x, torch.Tensor) or x.dtype != torch.uint8 or x.ndim != 4 or len(x) == 0:
        what = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ModelInputError(
            f"calibration_images must be a non-empty uint8 batch [N, C, H, W] of training "
            f"images (e.g. ImageSet.images); got {what}"
        )
    body = nn.Sequential(copy.deepcopy(model.features), copy.deepcopy(model.head)).cpu().eval()
    example = (to_model_input(x[:1].cpu()).contiguous(memory_format=torch.channels_last),)
    previous = torch.backends.quantized.engine
    try:  # the weights are packed for the engine chosen now; later calls use them as packed
        torch.backends.quantized.engine = engine
        with torch.no_grad(), _quiet_deprecations(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FX quantization's deprecation and tracer notes
            prepared = prepare_fx(body, get_default_qconfig_mapping(engine), example)
            for chunk in x.cpu().split(64):  # every view the int8 net will see
                views = [to_model_input(chunk)]
                views += [shrink_by_half(views[0])] if getattr(model, "coarse_view", False) else []
                for view in views:
                    prepared(view.contiguous(memory_format=torch.channels_last))
            traced = torch.jit.trace(convert_fx(prepared), example, check_trace=False)
            frozen = torch.jit.freeze(traced.eval())
    finally:
        torch.backends.quantized.engine = previous
    if not getattr(model, "centre", False):
        return _StaticInt8(frozen, []).eval()
    n_views = 2 if model.coarse_view else 1
    views = [
        tuple(b if b is None else b.detach().cpu().clone() for b in model.view_buffers(i))
        for i in range(n_views)
    ]
    return _StaticInt8(frozen, views).eval()


class _ChannelsLast(nn.Module):
    """Hands the wrapped net its input in the channels_last layout (oneDNN's own)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.contiguous(memory_format=torch.channels_last))


class _Frozen(nn.Module):
    """A frozen TorchScript net behind the ``nn.Module`` interface (``embed`` needs ``eval``)."""

    def __init__(self, scripted: torch.jit.ScriptModule):
        super().__init__()
        self.scripted = scripted

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scripted(x)


def optimise_for_cpu(model: nn.Module, image_size: int) -> nn.Module:
    """A CPU copy of ``model`` for fast batch-1 queries of ``image_size`` images, same maths.

    Every conv-BatchNorm-ReLU block is fused into one convolution (eval-mode BatchNorm is an
    affine map, folded into the weights), the net is traced, frozen and optimised by
    ``torch.jit.optimize_for_inference`` (oneDNN convolutions), and fed channels_last
    tensors. Only rounding differs from ``model``: check the accuracy of what it returns
    (``benchmarks/bench_best.py`` does). ``model`` itself is not changed.
    """
    from torch.ao.quantization import fuse_modules

    net = copy.deepcopy(model).to("cpu").eval()
    for block in list(net.modules()):
        kinds = [type(m) for m in block.children()] if isinstance(block, nn.Sequential) else []
        if kinds[:3] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]:
            fuse_modules(block, [["0", "1", "2"]], inplace=True)
    net = _ChannelsLast(net.to(memory_format=torch.channels_last)).eval()
    example = torch.zeros(1, 1, image_size, image_size)
    with torch.no_grad(), _quiet_deprecations(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the input-shape checks
        frozen = torch.jit.freeze(torch.jit.trace(net, example, check_trace=False))
        return _Frozen(torch.jit.optimize_for_inference(frozen)).eval()


def model_size_bytes(model: nn.Module) -> int:
    """Bytes of ``model``'s serialised ``state_dict``: what a checkpoint costs on disk, int8
    packed weights included (``parameters()`` does not see those)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


# ----------------------------------------------------------------------------- timing
def _synchronize(device: torch.device) -> None:
    """Wait for the device: GPU calls return before the work is done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@dataclass
class Timing:
    """Wall-clock seconds of repeated forward passes of one batch size on one device."""

    seconds: np.ndarray = field(repr=False)  #: one entry per repeat, each a whole batch
    batch_size: int
    device: str

    @property
    def ms_per_image(self) -> float:
        """Median milliseconds per image (batch time / batch size)."""
        return 1e3 * float(np.median(self.seconds)) / self.batch_size

    @property
    def images_per_second(self) -> float:
        """Median throughput."""
        return self.batch_size / float(np.median(self.seconds))

    def ms_per_image_quartiles(self) -> tuple[float, float]:
        """25th and 75th percentile of the milliseconds per image (error bars)."""
        q = 1e3 * np.quantile(self.seconds, [0.25, 0.75]) / self.batch_size
        return float(q[0]), float(q[1])

    def images_per_second_quartiles(self) -> tuple[float, float]:
        """25th and 75th percentile of the throughput (a slow repeat is a low throughput)."""
        q = self.batch_size / np.quantile(self.seconds, [0.75, 0.25])
        return float(q[0]), float(q[1])


def time_inference(
    model: nn.Module,
    batch_size: int = 1,
    image_size: int = 100,
    device: torch.device | str = "cpu",
    repeats: int = 20,
    warmup: int = 3,
    seed: int = 0,
    num_threads: int | None = None,
) -> Timing:
    """Time ``repeats`` forward passes of a random ``[batch_size, 1, S, S]`` batch on ``device``.

    The model runs in eval mode under ``torch.inference_mode``; ``warmup`` untimed passes
    first (memory allocation, kernel selection), and a device synchronisation closes every
    timed pass, so a GPU's asynchronous launch is not mistaken for its speed. The model is
    moved to ``device`` (pass a copy to keep the original where it is). ``num_threads`` sets
    torch's CPU threads for the measurement only (None: the current setting): a batch of one
    image gives threads little to share, and on a busy CPU their synchronisation can cost
    more than they save.
    """
    if batch_size < 1 or repeats < 1 or warmup < 0 or (num_threads is not None and num_threads < 1):
        raise ValueError(
            f"need batch_size >= 1, repeats >= 1, warmup >= 0, num_threads >= 1 or None; got "
            f"{batch_size}, {repeats}, {warmup}, {num_threads}"
        )
    repeats, warmup = cap(repeats), cap(warmup)  # TEST-ONLY knob (see .truncate): fewer passes
    device = torch.device(device)
    model = model.to(device)
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(batch_size, 1, image_size, image_size, generator=g) * 2 - 1).to(device)
    seconds = np.empty(repeats)
    threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            _synchronize(device)
            for i in range(repeats):
                start = time.perf_counter()
                model(x)
                _synchronize(device)
                seconds[i] = time.perf_counter() - start
    finally:
        model.train(was_training)
        torch.set_num_threads(threads)
    return Timing(seconds=seconds, batch_size=batch_size, device=str(device))
