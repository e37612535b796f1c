# ruff: noqa
# Exploration script of issue 15 (stop 34), kept as the record of how tile-shuffle.jsonl was
# made; not a maintained benchmark.
"""Issue 15, stop 34: a view made of shuffled tiles, an augmentation only a texture allows.

A texture is the same texture wherever one looks, so a window cut into a 2 x 2 grid of tiles
and put back in another order (each tile also turned by a random quarter turn) still shows
the same surface, while any layout the net might key on is gone. Each view of the recipe
(quick length) is so shuffled with probability ``p`` after its usual augmentation; the
recipe's runs of stop 33 (``finetune.py``'s ``base``) are the reference.

usage: tile_shuffle.py VARIANT:SPLIT:SEED ...   (VARIANT: shuffle50 | shuffle100)
"""

import os, sys

import torch

from common import train_and_score
from oneshot_steel.tasks import SelfSupervisedTask

OUT = os.environ.get("TILE_OUT", "/work/scratch/s34/tiles")


def shuffle_tiles(x, gen, p):
    """x: [B, C, H, W], H and W even; each image's four tiles permuted and quarter-turned."""
    b, c, h, w = x.shape
    t = (
        x.reshape(b, c, 2, h // 2, 2, w // 2)
        .permute(0, 2, 4, 1, 3, 5)
        .reshape(b, 4, c, h // 2, w // 2)
    )
    order = torch.rand(b, 4, generator=gen, device=x.device).argsort(1)
    t = t[torch.arange(b, device=x.device)[:, None], order]
    turns = torch.randint(0, 4, (b, 4), generator=gen, device=x.device)
    t = torch.stack([torch.rot90(t, k, dims=(3, 4)) for k in range(4)])  # [4 turns, B, 4, ...]
    t = t[turns, torch.arange(b, device=x.device)[:, None], torch.arange(4, device=x.device)]
    out = t.reshape(b, 2, 2, c, h // 2, w // 2).permute(0, 3, 1, 4, 2, 5).reshape(b, c, h, w)
    keep = torch.rand(b, generator=gen, device=x.device) >= p
    return torch.where(keep.view(-1, 1, 1, 1), x, out)


class TileShuffle(SelfSupervisedTask):
    p = 0.5

    def inputs(self, images, gen):
        x = super().inputs(images, gen)
        return shuffle_tiles(x, gen, self.p).contiguous(memory_format=self.memory_format)


class TileShuffleAlways(TileShuffle):
    p = 1.0


TASKS = {"shuffle50": TileShuffle, "shuffle100": TileShuffleAlways}

if __name__ == "__main__":
    torch.set_num_threads(2)
    train_and_score(sys.argv[1:], OUT, TASKS.__getitem__)
