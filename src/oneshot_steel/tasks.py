"""The training tasks: what one training step computes. This is where the ML happens.

- :class:`PairTask`: the paper's Siamese step (:meth:`PairTask.loss`: both images of every
  pair through the one branch, contrastive loss on their distance);
- :class:`EpisodeTask`: a prototypical-network episode;
- :class:`SelfSupervisedTask`: NT-Xent on two augmented views of each image;
- :class:`ClassificationTask`: cross-entropy on labelled images (the paper's CNN baseline).

Each task says what its batches are, what its loss is and how it validates; the one loop that
runs them all (mixed precision, checkpoints, resume, divergence checks) is
:func:`oneshot_steel.train._fit`.

Every random draw is seeded by :func:`epoch_seed` from ``(seed, epoch, stream)``, one stream
per purpose (:data:`INIT`, :data:`AUGMENT`, :data:`EPISODES`, :data:`VALIDATION`), so a
resumed run needs no saved RNG state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .augment import augment_batch, random_crop, to_model_input
from .config import CNNConfig, TrainConfig
from .data.imageset import ImageSet
from .evaluate import embed
from .losses import contrastive_loss, euclidean_distance, nt_xent_loss, prototypical_loss
from .metric import fit_centres, fit_whitening
from .sampling import EpisodeSampler, PairSampler

__all__ = [
    "AUGMENT",
    "CHECK_IMAGES",
    "EPISODES",
    "INIT",
    "VALIDATION",
    "ClassificationTask",
    "EpisodeTask",
    "PairTask",
    "SelfSupervisedTask",
    "Task",
    "epoch_seed",
]


def epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """A 63-bit seed that depends only on ``(seed, epoch, stream)``: resuming needs no RNG state."""
    state = np.random.SeedSequence([int(seed), int(epoch), int(stream)]).generate_state(2)
    return int((int(state[0]) << 32 | int(state[1])) >> 1)


#: The seed streams of :func:`epoch_seed`: the initial weights, the augmentation, which
#: examples each step sees (episodes; self-supervised and classification batches), and the
#: fixed validation pairs or episodes.
INIT, AUGMENT, EPISODES, VALIDATION = range(4)
#: Without validation images, the divergence check embeds this many training images per epoch.
CHECK_IMAGES = 64
#: A net that keeps SimpleShot's base-class mean (``centre``) takes it from this many training
#: images, spread evenly, before each validation: plenty for a mean, and cheap at 200 px.
MEAN_IMAGES = 512


@contextmanager
def _about_the_validation_set(n: int) -> Iterator[None]:
    """Say that a sampler's complaint is about the validation set, which the caller never
    sampled themselves (the same message about the training set would mislead)."""
    try:
        yield
    except ValueError as exc:
        raise ValueError(
            f"the validation set ({n} images): {exc} Hold out more images (val_fraction) or "
            "pass val_set=None to train without validation."
        ) from None


class Task:
    """What differs between the kinds of training: the batches, the loss, validation."""

    kind = ""
    cfg: TrainConfig | CNNConfig

    def __init__(
        self,
        cfg: TrainConfig | CNNConfig,
        net: nn.Module,
        train: ImageSet,
        val: ImageSet | None,
        *,
        memory_format: torch.memory_format = torch.contiguous_format,
    ):
        device = next(net.parameters()).device
        self.cfg, self.net, self.device = cfg, net, device
        self.memory_format = memory_format  # channels_last on CPUs (train.autocast_settings)
        if train.is_signal and (cfg.augment or cfg.crop_size):
            raise ValueError(
                "the augmentation and crops of TrainConfig (rotations, flips, brightness, "
                "square crops) are for images; train on signal windows with augment=False "
                "and crop_size=0"
            )
        size, least = train.image_size, getattr(net, "min_size", None)
        if cfg.crop_size > size:  # would silently train on whole images
            raise ValueError(
                f"crop_size={cfg.crop_size} is larger than the {size}x{size} training images; "
                f"use at most {size}, or 0 for whole images."
            )
        if cfg.crop_size and least and cfg.crop_size < least:
            raise ValueError(
                f"crop_size={cfg.crop_size} is too small: {type(net).__name__} takes images of "
                f"at least {least}x{least}; use crop_size >= {least}, or 0 for whole images."
            )
        if cfg.crop_size and getattr(net, "image_size", None) is not None:
            raise ValueError(
                f"crop_size={cfg.crop_size} needs a net that takes any input size (model "
                f"'compact' or 'resnet18'); {type(net).__name__} takes only "
                f"{net.image_size}x{net.image_size} images. Use crop_size=0."
            )
        self.images, self.labels = train.images.to(device), train.labels.to(device)  # resident
        self.val = None if val is None else (val.images.to(device), val.labels.to(device))
        self.classes = list(train.classes)  # so that an error names 'Cr', not label 2
        # What the divergence check embeds after each epoch: the validation images, else a
        # fixed, evenly spread sample of training images (the check must also run without).
        if self.val is not None:
            self.check_images, self.check_what = self.val[0], "validation images"
        else:
            n = len(self.images)
            probe = torch.linspace(0, n - 1, min(n, CHECK_IMAGES), device=device).long()
            self.check_images, self.check_what = self.images[probe], "training images checked"
        first = self.check_images[:1]
        self.check_distinct = bool((self.check_images != first).any())  # else one point is right
        self.setup()

    def setup(self) -> None:
        """Build the samplers (and the fixed validation pairs/episodes)."""

    def inputs(self, images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        c = self.cfg
        if images.ndim == 3:  # signal windows [B, C, L]: float already, nothing to augment
            return images.contiguous()
        if c.crop_size and c.crop_size < images.shape[-1]:
            images = random_crop(images, c.crop_size, gen)
        if not c.augment:
            x = to_model_input(images)
        else:
            x = augment_batch(images, gen, rotate=c.rotate, flip=c.flip, brightness=c.brightness)
        return x.contiguous(memory_format=self.memory_format)

    def train_metrics(self) -> dict[str, float]:
        """Per-epoch figures beyond the loss, computed during the epoch (default: none)."""
        return {}

    def val_embeddings(self) -> torch.Tensor:
        """Each check image (the validation images when there are some) embedded once, in eval
        mode, without augmentation: what :meth:`validate` and the divergence check read."""
        if getattr(self.net, "centre", False):
            self.update_base_mean()
        emb = embed(self.net, self.check_images, device=self.device, keep_on_device=True)
        if getattr(self.net, "within_class", False):
            self.update_metric()  # after: see update_metric
        return emb

    def update_base_mean(self) -> None:
        """Store in the net the mean raw feature of whole, unaugmented training images (the
        centre of SimpleShot, chapter 8; one per view of a net with a coarse view), so
        validation scores what inference will compute and every checkpoint carries the mean
        that belongs to its own weights. A net that whitens
        within-class gets an identity metric until :meth:`update_metric`."""
        net, n = self.net, len(self.images)
        self.probe = torch.linspace(0, n - 1, min(n, MEAN_IMAGES), device=self.device).long()
        was_training = net.training
        net.eval()
        with torch.no_grad():
            chunks = [
                net.raw_views(
                    to_model_input(self.images[i]).contiguous(memory_format=self.memory_format)
                )
                for i in self.probe.split(64)
            ]
            self.probe_views = [torch.cat(view).float() for view in zip(*chunks, strict=True)]
            fit_centres(net, self.probe_views)
        net.train(was_training)

    def update_metric(self) -> None:
        """Fit the net's within-class whitening on the training images of
        :meth:`update_base_mean` and their labels (``metric.within_class_whitening``).

        Called after the validation images are embedded, so the best epoch is chosen on
        SimpleShot's features alone: the metric is fitted on the very classes validation
        scores, and through it validation would reward the fit, not what carries to unseen
        classes (chosen that way, the full-length runs kept earlier epochs and lost a point,
        ``benchmarks/RESULTS.md``). Every checkpoint still carries its own epoch's metric."""
        labels = self.labels[self.probe]
        fit_whitening(self.net, self.probe_views, labels, self.cfg.within_class_whitening)


class PairTask(Task):
    kind = "siamese"
    cfg: TrainConfig

    def setup(self) -> None:
        c = self.cfg
        names = self.classes
        self.sampler = PairSampler(
            self.labels, c.pairs_per_epoch, c.p_same, c.seed, class_names=names
        )
        if self.val is not None:
            seed = epoch_seed(c.seed, 0, VALIDATION)
            with _about_the_validation_set(len(self.val[1])):
                vs = PairSampler(self.val[1], c.val_pairs, c.p_same, seed, class_names=names)
            self.val_pairs = vs.sample_epoch(0)

    def batches(self, epoch: int) -> list[tuple[torch.Tensor, ...]]:
        pairs, bs = self.sampler.sample_epoch(epoch), self.cfg.batch_size
        return list(zip(*(t.split(bs) for t in pairs), strict=True))

    def loss(self, batch: tuple[torch.Tensor, ...], gen: torch.Generator) -> torch.Tensor:
        i1, i2, same = batch
        # Both sides of every pair in one forward pass, exactly as SiameseNetwork does it.
        x = self.inputs(torch.cat([self.images[i1], self.images[i2]]), gen)
        e1, e2 = self.net(x).float().chunk(2)
        return contrastive_loss(euclidean_distance(e1, e2), same, self.cfg.margin)

    def validate(self, emb: torch.Tensor) -> dict[str, float]:
        i1, i2, same = self.val_pairs
        d = euclidean_distance(emb[i1], emb[i2])
        acc = ((d < self.cfg.margin).float() == same).float().mean()
        return {
            "val_loss": float(contrastive_loss(d, same, self.cfg.margin)),
            "val_accuracy": float(acc),
        }


class EpisodeTask(Task):
    kind = "episodic"
    cfg: TrainConfig

    def setup(self) -> None:
        c = self.cfg
        shape, names = (c.n_way, c.k_shot, c.n_query), self.classes
        seed = epoch_seed(c.seed, 0, EPISODES)
        self.sampler = EpisodeSampler(self.labels, *shape, seed=seed, class_names=names)
        if self.val is not None:
            seed = epoch_seed(c.seed, 0, VALIDATION)
            with _about_the_validation_set(len(self.val[1])):
                vs = EpisodeSampler(self.val[1], *shape, seed=seed, class_names=names)
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

    def validate(self, emb: torch.Tensor) -> dict[str, float]:
        eps = self.val_episodes
        results = [
            prototypical_loss(emb[s], emb[q]) for s, q in zip(eps.support, eps.query, strict=True)
        ]
        loss, acc = torch.tensor([[float(v) for v in r] for r in results]).mean(dim=0).tolist()
        return {"val_loss": loss, "val_accuracy": acc}


class SelfSupervisedTask(EpisodeTask):
    """Two random views of each image must find each other (NT-Xent); labels are not used.

    Validation is inherited: prototypical loss and accuracy on fixed episodes of the
    validation images, so the best epoch is still chosen on the training classes.
    """

    kind = "selfsup"

    def batches(self, epoch: int) -> list[tuple[torch.Tensor, ...]]:
        c = self.cfg
        gen = torch.Generator(device=self.device).manual_seed(epoch_seed(c.seed, epoch, EPISODES))
        n = len(self.labels)
        if c.ssl_batch < 2 or c.ssl_batch > n:
            raise ValueError(
                f"ssl_batch must be between 2 and {n} (training images); got {c.ssl_batch}"
            )
        order = torch.rand((c.episodes_per_epoch, n), generator=gen, device=self.device)
        return list(order.argsort(dim=1)[:, : c.ssl_batch])  # distinct images within a step

    def loss(self, batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        images = self.images[batch]
        views = self.net(self.inputs(torch.cat([images, images]), gen)).float()
        return nt_xent_loss(*views.chunk(2), temperature=self.cfg.temperature)


class ClassificationTask(Task):
    """The supervised CNN baseline: cross-entropy on shuffled, augmented mini-batches.

    Each epoch visits ``samples_per_epoch`` training images (all when None) in an order drawn
    from the :data:`EPISODES` stream. Validation, when there is a validation set, is the
    cross-entropy and accuracy on its images; the paper had none and scored the last epoch.
    """

    kind = "classifier"
    cfg: CNNConfig

    def setup(self) -> None:
        self.hits: list[torch.Tensor] = []  # correct predictions of each step of this epoch
        self.seen = 0

    def batches(self, epoch: int) -> list[torch.Tensor]:
        c = self.cfg
        gen = torch.Generator(device=self.device).manual_seed(epoch_seed(c.seed, epoch, EPISODES))
        order = torch.randperm(len(self.labels), generator=gen, device=self.device)
        self.hits, self.seen = [], 0
        return list(order[: c.samples_per_epoch].split(c.batch_size))

    def loss(self, batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        logits, labels = self.net(self.inputs(self.images[batch], gen)).float(), self.labels[batch]
        self.hits.append((logits.argmax(1) == labels).sum())
        self.seen += len(batch)
        return F.cross_entropy(logits, labels)

    def train_metrics(self) -> dict[str, float]:
        return {"train_accuracy": float(torch.stack(self.hits).sum()) / self.seen}

    def validate(self, logits: torch.Tensor) -> dict[str, float]:
        labels = self.val[1]
        return {
            "val_loss": float(F.cross_entropy(logits, labels)),
            "val_accuracy": float((logits.argmax(1) == labels).float().mean()),
        }
