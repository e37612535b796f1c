"""The naive baseline every benchmark is measured against: a "paper-style" pipeline.

It does what the authors' notebooks (and most tutorials) do, on purpose:

- a ``torch.utils.data.Dataset`` that builds each training pair in Python, opening and
  decoding both image files with Pillow and applying the random rotation, flips and
  brightness one image at a time (per-sample PIL transforms);
- a ``DataLoader`` with ``num_workers=0`` (the notebooks' setting; worker processes also
  break in notebooks on some platforms);
- both images of every pair through the network in two separate forward passes, in fp32;
- at test time, every comparison runs both images through the network again.

Nothing here is used by the package; it exists so the benchmark can report ratios measured
in the same run, on the same machine, with the same model and the same pairs per epoch.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import nn
from torch.utils.data import DataLoader, Dataset

from oneshot_steel.losses import contrastive_loss, euclidean_distance

_ROTATIONS = (
    None,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
)


def pil_to_input(img: Image.Image) -> torch.Tensor:
    """A gray PIL image -> float tensor ``[1, S, S]`` in [-1, 1] (ToTensor + Normalize(0.5, 0.5))."""
    arr = np.asarray(img, dtype=np.float32)
    return torch.from_numpy(arr / 127.5 - 1.0)[None]


def load_pil(path: str, size: int) -> Image.Image:
    """Open, decode, convert to gray and resize one file, as ``ImageFolder`` + ``Resize`` do."""
    with Image.open(path) as img:
        return img.convert("L").resize((size, size), Image.Resampling.BILINEAR)


def augment_pil(img: Image.Image, rng: random.Random, brightness: float = 10.0) -> torch.Tensor:
    """The paper's augmentation, one image at a time with Pillow, then to a tensor."""
    rot = _ROTATIONS[rng.randrange(4)]
    if rot is not None:
        img = img.transpose(rot)
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    if rng.random() < 0.5:
        img = ImageOps.flip(img)
    arr = np.asarray(img, dtype=np.float32) + rng.uniform(-brightness, brightness)
    return torch.from_numpy(np.clip(arr, 0.0, 255.0) / 127.5 - 1.0)[None]


class PaperStylePairs(Dataset):
    """``n_pairs`` random pairs (same class with p = 0.5), built and augmented per sample."""

    def __init__(
        self, paths: Sequence[str], labels: Sequence[int], n_pairs: int, size: int, seed: int = 0
    ):
        self.size, self.n_pairs, self.seed = size, n_pairs, seed
        self.by_class: dict[int, list[str]] = {}
        for path, label in zip(paths, labels, strict=True):
            self.by_class.setdefault(int(label), []).append(path)
        self.classes = sorted(self.by_class)

    def __len__(self) -> int:
        return self.n_pairs

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = random.Random(self.seed * 1_000_003 + i)
        same = rng.random() < 0.5
        c1 = rng.choice(self.classes)
        c2 = c1 if same else rng.choice([c for c in self.classes if c != c1])
        p1, p2 = (
            rng.sample(self.by_class[c1], 2)
            if same
            else (rng.choice(self.by_class[c1]), rng.choice(self.by_class[c2]))
        )
        x1 = augment_pil(load_pil(p1, self.size), rng)
        x2 = augment_pil(load_pil(p2, self.size), rng)
        return x1, x2, torch.tensor(float(same))


def paper_style_loader(dataset: PaperStylePairs, batch_size: int = 32) -> DataLoader:
    """The notebooks' loader: single process, default collation."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)


def paper_style_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    x1: torch.Tensor,
    x2: torch.Tensor,
    same: torch.Tensor,
    margin: float = 2.0,
) -> torch.Tensor:
    """One fp32 step with the two images of each pair in two separate forward passes."""
    e1, e2 = net(x1), net(x2)
    loss = contrastive_loss(euclidean_distance(e1, e2), same, margin)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


@torch.inference_mode()
def paper_style_compare(
    net: nn.Module, query: Image.Image, support: Image.Image, device: torch.device
) -> float:
    """One test comparison: both images converted and run through the network (fp32)."""
    x1 = pil_to_input(query)[None].to(device)
    x2 = pil_to_input(support)[None].to(device)
    return float(euclidean_distance(net(x1), net(x2))[0])
