"""Transfer learning: ImageNet weights for the ResNet-18 embedding net (chapter 8).

The paper lists "no transfer from pretrained networks" among its own limits. A ResNet-18
trained on ImageNet has seen a million natural images; its filters for edges, blobs and
textures may carry over to steel better than anything three defect classes can teach.

Offline (CI, this book's smoke mode, a laptop on a train), the weights cannot be downloaded:
:func:`load_imagenet_weights` then leaves the random initialisation (``weights=None``) in
place and says so, and every result computed with it is labelled accordingly.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import torch

from .data.download import Limits, download
from .files import atomic_write
from .models import ResNet18Embedding

__all__ = ["fetch_hub_file", "load_imagenet_weights"]


def load_imagenet_weights(
    net: ResNet18Embedding, *, allow_download: bool = True, limits: Limits | None = None
) -> bool:
    """Put torchvision's ImageNet weights into ``net``'s backbone; ``True`` when that worked.

    Uses torch's hub cache (``~/.cache/torch/hub``), downloading once when online, with the
    same bounds as the data download (``limits``, default :class:`Limits`: a stalled or
    trickling connection is given up within a minute, where torch's own download would wait
    for ever). Without a network (or with ``allow_download=False`` and an empty cache) it
    prints why, keeps the random initialisation and returns ``False``: the caller must report
    its numbers as "ResNet-18, random init" rather than "pretrained".
    """
    from torchvision.models import ResNet18_Weights

    weights = ResNet18_Weights.IMAGENET1K_V1
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    try:
        cached = fetch_hub_file(weights.url, folder, allow_download, limits or Limits())
        state = torch.load(cached, map_location="cpu", weights_only=True)
    except Exception as err:  # offline, proxy, corrupt cache: all mean "no pretrained weights"
        print(
            f"ImageNet weights for ResNet-18 are not available ({type(err).__name__}: {err}). "
            "Continuing with weights=None (random initialisation); results below are NOT "
            "those of a pretrained network. Run once with internet access to cache them."
        )
        return False
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    net.backbone.load_state_dict(state, strict=True)
    print(f"Loaded ImageNet weights for ResNet-18 ({weights.url.rsplit('/', 1)[-1]}).")
    return True


def fetch_hub_file(url: str, folder: Path, allow_download: bool, limits: Limits) -> Path:
    """``folder/NAME`` of ``url``, downloaded (atomically, within ``limits``) when missing.

    Torch hub names its files ``name-<first hex digits of the SHA-256>.ext``; a download whose
    digest does not start with them is refused and not kept, as torch's ``check_hash`` does.
    """
    cached = folder / url.rsplit("/", 1)[-1]
    if cached.is_file():
        return cached
    if not allow_download:
        raise FileNotFoundError(f"{cached} is not in the torch hub cache")
    prefix = re.search(r"-([a-f0-9]{6,})\.", cached.name)

    def write(tmp: Path) -> None:
        download(url, tmp, limits=limits, progress=False)
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        if prefix and not digest.startswith(prefix.group(1)):
            raise ValueError(
                f"{url} sent a file whose SHA-256 {digest[:12]}... does not start with "
                f"{prefix.group(1)}, as its name says: a corrupt download (nothing was kept)"
            )

    return atomic_write(cached, write)
