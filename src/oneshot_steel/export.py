"""Exporting a trained embedding network for an inspection line: TorchScript and ONNX files,
and :class:`OnnxEmbeddingNet` to run an ONNX file behind the ``nn.Module`` interface, so
:func:`~oneshot_steel.evaluate.embed`, episodes and the classifier work on an exported model
unchanged. (:mod:`oneshot_steel.deploy` re-exports all of it with the rest of deployment.)

Files are written whole or not at all (:func:`oneshot_steel.torch_io.write_file`); a file
that is missing or is not what it should be is named in a one-line
:class:`~oneshot_steel.errors.OneShotSteelError`.
"""

from __future__ import annotations

import copy
import importlib.util
import inspect
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import OneShotSteelError
from .torch_io import write_file

__all__ = [
    "OnnxEmbeddingNet",
    "export_onnx",
    "export_torchscript",
    "load_torchscript",
    "onnx_available",
]


@contextmanager
def _quiet_deprecations() -> Iterator[None]:
    """Silence torch's notices that eager int8 quantization and TorchScript are moving on
    (to torchao and torch.export). Both still work in every torch this package supports; the
    book says so once in words instead of a warning per call. Other warnings still show."""
    with warnings.catch_warnings():
        for pattern in (
            r".*torch\.ao\.quantization.*deprecated",
            r".*quantized tensor creation functions.*deprecated",
            r".*torch\.jit.*deprecated",
        ):
            warnings.filterwarnings("ignore", message=pattern)
        yield


def _example(example: torch.Tensor | None, image_size: int) -> torch.Tensor:
    if example is None:
        example = torch.zeros(2, 1, image_size, image_size)
    return example.detach().to("cpu", torch.float32)


def export_torchscript(
    model: nn.Module,
    path: str | Path,
    example: torch.Tensor | None = None,
    image_size: int = 100,
) -> Path:
    """Trace ``model`` on the CPU and save it as TorchScript: a file that
    ``torch.jit.load`` (Python) or libtorch (C++) runs without this package's classes.

    Tracing records the operations run on ``example`` (default: two blank images of
    ``image_size``). The models' input check is plain Python and is recorded as a constant,
    which is why tracing warns about it; it only ever raises, so the recorded graph computes
    the same embeddings for any batch size (and, for the compact net, any image size).
    The file is written atomically.
    """
    net = copy.deepcopy(model).to("cpu").eval()
    x = _example(example, image_size)
    buffer = io.BytesIO()
    with _quiet_deprecations(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        with torch.no_grad():
            traced = torch.jit.trace(net, x)
        # Serialised in memory first: torch.jit.save into a file that cannot grow (disk
        # full, ulimit -f) aborts the whole process; Python's own write raises an OSError.
        torch.jit.save(traced, buffer)
    return write_file(path, lambda tmp: tmp.write_bytes(buffer.getvalue()), OneShotSteelError)


def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    """A saved TorchScript model, on the CPU, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise OneShotSteelError(f"No TorchScript file at {str(path)!r}; export one first.")
    with _quiet_deprecations():
        try:
            return torch.jit.load(str(path), map_location="cpu").eval()
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0].split(". ")[0] if str(exc).strip() else ""
            raise OneShotSteelError(
                f"{path} is not a TorchScript file ({first[:200]}): export one with "
                "export_torchscript (a checkpoint loads with load_checkpoint instead)."
            ) from exc


def onnx_available() -> bool:
    """True when the ``onnx`` package is installed (needed to export; not a dependency)."""
    return importlib.util.find_spec("onnx") is not None


def export_onnx(
    model: nn.Module,
    path: str | Path,
    example: torch.Tensor | None = None,
    image_size: int = 100,
    opset: int = 17,
) -> Path:
    """Export ``model`` to ONNX with a free batch dimension (input ``images``, output
    ``embeddings``), check the file with ``onnx.checker`` and write it atomically.

    Uses the TorchScript-based exporter where this torch has it (fast, needs only ``onnx``);
    newer torch versions without it use the ``torch.export``-based one (needs ``onnxscript``).
    """
    if not onnx_available():
        raise OneShotSteelError(
            "Exporting to ONNX needs the `onnx` package (and `onnxruntime` to run the file): "
            "pip install onnx onnxruntime"
        )
    import onnx

    net = copy.deepcopy(model).to("cpu").eval()
    x = _example(example, image_size)
    kwargs: dict = {
        "input_names": ["images"],
        "output_names": ["embeddings"],
        "dynamic_axes": {"images": {0: "batch"}, "embeddings": {0: "batch"}},
        "opset_version": opset,
    }
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            torch.onnx.export(net, (x,), str(tmp), **kwargs)
        onnx.checker.check_model(str(tmp))

    return write_file(path, write, OneShotSteelError, failures=(OSError,))  # export errors stay


class OnnxEmbeddingNet(nn.Module):
    """An ONNX embedding net behind the ``nn.Module`` interface (CPU, no trainable weights).

    ``embed``, ``episodic_accuracy`` and ``OneShotClassifier`` take it like any model, so the
    exported file is evaluated with exactly the code that evaluated the original. Runs on
    ``onnxruntime`` when installed, else on ``onnx``'s reference evaluator (slow: checks only).
    """

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = str(path)
        if not Path(self.path).is_file():
            raise OneShotSteelError(f"No ONNX file at {self.path!r}; export one first.")
        if not (importlib.util.find_spec("onnxruntime") or onnx_available()):
            raise OneShotSteelError(
                "Running an ONNX file needs `onnxruntime` (or at least `onnx`): "
                "pip install onnxruntime"
            )
        try:
            self._open()
        except Exception as exc:  # each runtime has its own errors for a file it cannot parse
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise OneShotSteelError(
                f"{self.path} is not an ONNX model this runtime can run ({type(exc).__name__}: "
                f"{first}); export one with export_onnx."
            ) from exc

    def _open(self) -> None:
        if importlib.util.find_spec("onnxruntime") is not None:
            import onnxruntime

            self._session = onnxruntime.InferenceSession(
                self.path, providers=["CPUExecutionProvider"]
            )
            self._input = self._session.get_inputs()[0].name
            self.runtime = "onnxruntime"
        else:
            from onnx.reference import ReferenceEvaluator

            self._session = ReferenceEvaluator(self.path)
            self._input = self._session.input_names[0]
            self.runtime = "onnx reference evaluator"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 1, S, S]`` float in [-1, 1] -> ``[B, D]`` float32, on ``x``'s device."""
        feed = {self._input: x.detach().to("cpu", torch.float32).numpy()}
        out = np.asarray(self._session.run(None, feed)[0], dtype=np.float32)
        return torch.from_numpy(out).to(x.device)
