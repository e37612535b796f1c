"""The two training tasks of :mod:`oneshot_steel.train`: Siamese pairs and prototypical
episodes. Each says what its batches are, what its loss is and how it validates; the loop
that runs them (checkpoints, resume, mixed precision) is :func:`oneshot_steel.train._fit`.

Every random draw is seeded by :func:`epoch_seed` from ``(seed, epoch, stream)``, one stream
per purpose (:data:`INIT`, :data:`AUGMENT`, :data:`EPISODES`, :data:`VALIDATION`), so a
resumed run needs no saved RNG state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from .augment import augment_batch, to_model_input
from .data.imageset import ImageSet
from .evaluate import embed
from .losses import contrastive_loss, euclidean_distance, prototypical_loss
from .sampling import EpisodeSampler, PairSampler

if TYPE_CHECKING:
    from .train import TrainConfig

__all__ = ["AUGMENT", "EPISODES", "INIT", "VALIDATION", "EpisodeTask", "PairTask", "epoch_seed"]


def epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """A 63-bit seed that depends only on ``(seed, epoch, stream)``: resuming needs no RNG state."""
    state = np.random.SeedSequence([int(seed), int(epoch), int(stream)]).generate_state(2)
    return int((int(state[0]) << 32 | int(state[1])) >> 1)


#: The seed streams of :func:`epoch_seed`.
INIT, AUGMENT, EPISODES, VALIDATION = range(4)


class Task:
    """What differs between Siamese and episodic training: the batches, the loss, validation."""

    kind = ""

    def __init__(self, cfg: TrainConfig, net: nn.Module, train: ImageSet, val: ImageSet | None):
        device = next(net.parameters()).device
        self.cfg, self.net, self.device = cfg, net, device
        self.images, self.labels = train.images.to(device), train.labels.to(device)  # resident
        self.val = None if val is None else (val.images.to(device), val.labels.to(device))
        self.setup()

    def setup(self) -> None:
        """Build the samplers (and the fixed validation pairs/episodes)."""

    def inputs(self, images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        c = self.cfg
        if not c.augment:
            return to_model_input(images)
        return augment_batch(images, gen, rotate=c.rotate, flip=c.flip, brightness=c.brightness)

    def val_embeddings(self) -> torch.Tensor:
        """Each validation image embedded once, in eval mode, without augmentation."""
        return embed(self.net, self.val[0], device=self.device, keep_on_device=True)


class PairTask(Task):
    kind = "siamese"

    def setup(self) -> None:
        c = self.cfg
        self.sampler = PairSampler(self.labels, c.pairs_per_epoch, c.p_same, c.seed)
        if self.val is not None:
            seed = epoch_seed(c.seed, 0, VALIDATION)
            self.val_pairs = PairSampler(self.val[1], c.val_pairs, c.p_same, seed).sample_epoch(0)

    def batches(self, epoch: int) -> list[tuple[torch.Tensor, ...]]:
        pairs, bs = self.sampler.sample_epoch(epoch), self.cfg.batch_size
        return list(zip(*(t.split(bs) for t in pairs), strict=True))

    def loss(self, batch: tuple[torch.Tensor, ...], gen: torch.Generator) -> torch.Tensor:
        i1, i2, same = batch
        # Both sides of every pair in one forward pass, exactly as SiameseNetwork does it.
        x = self.inputs(torch.cat([self.images[i1], self.images[i2]]), gen)
        e1, e2 = self.net(x).float().chunk(2)
        return contrastive_loss(euclidean_distance(e1, e2), same, self.cfg.margin)

    def validate(self) -> dict[str, float]:
        emb, (i1, i2, same) = self.val_embeddings(), self.val_pairs
        d = euclidean_distance(emb[i1], emb[i2])
        acc = ((d < self.cfg.margin).float() == same).float().mean()
        return {
            "val_loss": float(contrastive_loss(d, same, self.cfg.margin)),
            "val_accuracy": float(acc),
        }


class EpisodeTask(Task):
    kind = "episodic"

    def setup(self) -> None:
        c = self.cfg
        shape = (c.n_way, c.k_shot, c.n_query)
        self.sampler = EpisodeSampler(self.labels, *shape, seed=epoch_seed(c.seed, 0, EPISODES))
        if self.val is not None:
            vs = EpisodeSampler(self.val[1], *shape, seed=epoch_seed(c.seed, 0, VALIDATION))
            self.val_episodes = vs.sample(c.val_episodes)

    def batches(self, epoch: int) -> list[tuple[torch.Tensor, ...]]:
        eps = self.sampler.sample(self.cfg.episodes_per_epoch, epoch=epoch)
        return list(zip(eps.support, eps.query, strict=True))

    def loss(self, batch: tuple[torch.Tensor, ...], gen: torch.Generator) -> torch.Tensor:
        support, query = batch  # [N, K], [N, Q] image indices
        idx = torch.cat([support.flatten(), query.flatten()])
        emb = self.net(self.inputs(self.images[idx], gen)).float()
        n_support = support.numel()
        return prototypical_loss(emb[:n_support].view(*support.shape, -1), emb[n_support:])[0]

    def validate(self) -> dict[str, float]:
        emb, eps = self.val_embeddings(), self.val_episodes
        results = [
            prototypical_loss(emb[s], emb[q]) for s, q in zip(eps.support, eps.query, strict=True)
        ]
        loss, acc = torch.tensor([[float(v) for v in r] for r in results]).mean(dim=0).tolist()
        return {"val_loss": loss, "val_accuracy": acc}
