"""Siamese branches for sequences: a 1D convolutional net with a wide first kernel (the WDCNN
family of Zhang et al. 2017) and a recurrent net (a GRU, as the paper's conclusion suggests).

Both take signal windows ``[B, C, L]`` (float, any scale: each window is standardised inside
the net, so a load that makes the machine vibrate louder does not move the embedding by
itself) and return ``[B, embedding_dim]``, like the image branches of :mod:`.models`, so the
same training loop, samplers and evaluation code serve images and vibration alike.
"""

from __future__ import annotations

import torch
from torch import nn

from .errors import ModelInputError

__all__ = ["GRUEmbeddingNet", "WDCNNEmbeddingNet", "check_signal_batch", "standardise"]


def check_signal_batch(x: torch.Tensor, model: str, *, channels: int, min_length: int) -> None:
    """Raise :class:`ModelInputError` naming the expected and the received shape."""
    expected = f"[B, {channels}, L >= {min_length}]"
    if not isinstance(x, torch.Tensor) or x.ndim != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ModelInputError(
            f"{model} expects a batch of signal windows {expected}; got {shape}. A single "
            "window needs x[None]; images go to the image nets of oneshot_steel.models."
        )
    if x.shape[1] != channels or x.shape[2] < min_length:
        raise ModelInputError(f"{model} expects {expected}; got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ModelInputError(f"{model} expects float signals; got dtype {x.dtype}")


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Each window and channel to zero mean and unit variance (a silent window stays 0)."""
    x = x - x.mean(dim=-1, keepdim=True)
    return x / x.std(dim=-1, keepdim=True).clamp_min(1e-6)


def _check_sizes(embedding_dim: int, width: int, in_channels: int) -> None:
    if embedding_dim < 1 or width < 1 or in_channels < 1:
        raise ValueError(
            f"embedding_dim, width and in_channels must be positive; got "
            f"{embedding_dim}, {width}, {in_channels}"
        )


class WDCNNEmbeddingNet(nn.Module):
    """1D conv branch: a wide first kernel, then small kernels (the WDCNN family).

    The first layer (kernel 64, stride 16) sees about 5 ms of a 12 kHz signal at a time and
    acts as a learned filter bank; four conv-BN-ReLU-pool blocks of kernel 3 follow, then
    global average pooling, so any window of at least :attr:`min_length` samples works.
    """

    min_length: int = 256

    def __init__(self, embedding_dim: int = 32, width: int = 16, *, in_channels: int = 1):
        super().__init__()
        _check_sizes(embedding_dim, width, in_channels)
        self.embedding_dim, self.width, self.in_channels = embedding_dim, width, in_channels
        w = width
        layers: list[nn.Module] = [
            nn.Conv1d(in_channels, w, kernel_size=64, stride=16, padding=24),
            nn.BatchNorm1d(w),
            nn.ReLU(inplace=True),
            nn.MaxPool1d(2),
        ]
        for cin, cout in ((w, 2 * w), (2 * w, 4 * w), (4 * w, 4 * w)):
            layers += [
                nn.Conv1d(cin, cout, kernel_size=3, padding=1),
                nn.BatchNorm1d(cout),
                nn.ReLU(inplace=True),
                nn.MaxPool1d(2),
            ]
        layers += [nn.AdaptiveAvgPool1d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(4 * w, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, L]`` float, L >= 256 -> ``[B, embedding_dim]``."""
        check_signal_batch(x, type(self).__name__, channels=self.in_channels, min_length=256)
        return self.head(self.features(standardise(x)))


class GRUEmbeddingNet(nn.Module):
    """Recurrent branch: a strided conv front end, then a GRU over the shortened sequence.

    A GRU over 2,048 raw samples would be slow (a recurrence cannot be parallelised over
    time) and forget the start; the front end (kernel 64, stride 16, then pooling by 4) turns
    the window into a sequence of 32 feature vectors of about 5 ms each, which the GRU reads
    in order. The embedding is the mean of its hidden states (the last state alone weighs the
    end of the window too much).
    """

    min_length: int = 128

    def __init__(self, embedding_dim: int = 32, width: int = 16, *, in_channels: int = 1):
        super().__init__()
        _check_sizes(embedding_dim, width, in_channels)
        self.embedding_dim, self.width, self.in_channels = embedding_dim, width, in_channels
        self.front = nn.Sequential(
            nn.Conv1d(in_channels, width, kernel_size=64, stride=16, padding=24),
            nn.BatchNorm1d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool1d(4),
        )
        self.gru = nn.GRU(width, 2 * width, batch_first=True)
        self.head = nn.Linear(2 * width, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, L]`` float, L >= 128 -> ``[B, embedding_dim]``."""
        check_signal_batch(x, type(self).__name__, channels=self.in_channels, min_length=128)
        seq = self.front(standardise(x)).transpose(1, 2)  # [B, T, width]
        states, _ = self.gru(seq.float())  # the GRU in float32 also under autocast
        return self.head(states.mean(dim=1))
