"""The networks: the paper's Siamese branch (Fig. 1), its CNN baseline, and a compact modern net.

Every model checks its input and raises :class:`~oneshot_steel.errors.ModelInputError` that
states the expected and the received shape, because a wrong shape otherwise surfaces as an
opaque ``mat1 and mat2 shapes cannot be multiplied`` deep inside the first linear layer.
Model inputs are float tensors ``[B, 1, S, S]`` scaled to [-1, 1]
(see :func:`oneshot_steel.augment.to_model_input`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from .errors import ModelInputError
from .losses import euclidean_distance
from .metric import finish_feature, join_views, shrink_by_half
from .sequence_nets import GRUEmbeddingNet, WDCNNEmbeddingNet

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CompactEmbeddingNet",
    "PaperCNNClassifier",
    "PaperEmbeddingNet",
    "PaperNet",
    "ResNet18Embedding",
    "SiameseNetwork",
    "build_model",
    "check_image_batch",
]


def check_image_batch(
    x: torch.Tensor,
    model: str,
    *,
    channels: int,
    size: int | None = None,
    min_size: int | None = None,
) -> None:
    """Raise :class:`ModelInputError` unless ``x`` is a float ``[B, channels, S, S]`` batch.

    ``size`` demands an exact spatial size (the paper nets: their first FC layer is sized for
    it); ``min_size`` a lower bound (the pooling net needs room for its three halvings).
    """
    hw = f"{size}, {size}" if size is not None else "H, W"
    expected = f"[B, {channels}, {hw}]"
    if not isinstance(x, torch.Tensor):
        raise ModelInputError(f"{model} expects a torch.Tensor {expected}; got {type(x).__name__}")
    got = tuple(x.shape)
    if x.ndim != 4:
        hint = " Add a batch dimension with x.unsqueeze(0)." if x.ndim == 3 else ""
        raise ModelInputError(
            f"{model} expects a 4-d batch {expected} (batch, channels, height, width); "
            f"got shape {got}.{hint}"
        )
    if not x.is_floating_point():
        raise ModelInputError(
            f"{model} expects float input {expected} in [-1, 1]; got dtype {x.dtype} with "
            f"shape {got}. "
            "Convert uint8 images with oneshot_steel.augment.to_model_input()."
        )
    if x.shape[1] != channels:
        raise ModelInputError(
            f"{model} expects {channels} channel(s), shape {expected}; got shape {got}."
        )
    h, w = int(x.shape[2]), int(x.shape[3])
    if size is not None and (h, w) != (size, size):
        raise ModelInputError(
            f"{model} was built for {size}x{size} images, shape {expected}; got shape {got}. "
            f"Resize the images to {size}x{size} or build the model with image_size={h}."
        )
    if min_size is not None and min(h, w) < min_size:
        raise ModelInputError(
            f"{model} needs images of at least {min_size}x{min_size}, shape {expected}; "
            f"got shape {got}."
        )


def _paper_layers(in_channels: int, image_size: int, out_dim: int) -> OrderedDict[str, nn.Module]:
    """Fig. 1 of the paper: three padded 3x3 convs (4, 8, 8 maps, no pooling), FC 500, 500, out."""
    return OrderedDict(
        [
            ("conv1", nn.Conv2d(in_channels, 4, kernel_size=3, stride=1, padding=1)),
            ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(4, 8, kernel_size=3, stride=1, padding=1)),
            ("relu2", nn.ReLU()),
            ("conv3", nn.Conv2d(8, 8, kernel_size=3, stride=1, padding=1)),
            ("relu3", nn.ReLU()),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(8 * image_size * image_size, 500)),
            ("relu4", nn.ReLU()),
            ("fc2", nn.Linear(500, 500)),
            ("relu5", nn.ReLU()),
            ("fc3", nn.Linear(500, out_dim)),
        ]
    )


class PaperNet(nn.Module):
    """Fig. 1 with ``out_dim`` outputs: the Siamese branch (:class:`PaperEmbeddingNet`) and
    the CNN baseline (:class:`PaperCNNClassifier`) are this one network; only the meaning of
    the outputs differs. Its layers are ``self.net.conv1`` ... ``self.net.fc3``: the
    ``state_dict`` keys of every checkpoint of either, which must not change."""

    def __init__(self, out_dim: int, image_size: int = 100, *, in_channels: int = 1):
        super().__init__()
        if out_dim < 1 or image_size < 1 or in_channels < 1:
            raise ValueError(
                f"{type(self).__name__} needs positive sizes; got out_dim={out_dim}, "
                f"image_size={image_size}, in_channels={in_channels}"
            )
        self.out_dim = out_dim
        self.image_size = image_size
        self.in_channels = in_channels
        self.net = nn.Sequential(_paper_layers(in_channels, image_size, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, S, S]`` float in [-1, 1] -> ``[B, out_dim]``."""
        check_image_batch(x, type(self).__name__, channels=self.in_channels, size=self.image_size)
        return self.net(x)


class PaperEmbeddingNet(PaperNet):
    """One branch of the paper's Siamese network (Fig. 1): image -> ``embedding_dim`` vector.

    With the defaults it has 40,254,425 parameters, 99.4 % of them in ``fc1`` (80,000 x 500):
    without pooling the flattened feature map is as large as the image times 8. No activation
    follows ``fc3``: the embedding must be free to take any sign for distances to be useful.
    """

    def __init__(self, image_size: int = 100, embedding_dim: int = 5, *, in_channels: int = 1):
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be positive; got {embedding_dim}")
        super().__init__(embedding_dim, image_size, in_channels=in_channels)
        self.embedding_dim = embedding_dim


class PaperCNNClassifier(PaperNet):
    """The paper's CNN baseline: the same network as a branch, ending in ``num_classes`` logits.

    The authors fed 3-channel copies of the gray images; ``in_channels=3`` reproduces that,
    the default 1 uses the gray image as it is.
    """

    def __init__(self, num_classes: int = 6, image_size: int = 100, *, in_channels: int = 1):
        if num_classes < 2:
            raise ValueError(f"a classifier needs num_classes >= 2; got {num_classes}")
        super().__init__(num_classes, image_size, in_channels=in_channels)
        self.num_classes = num_classes


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    # No conv bias: the BatchNorm shift that follows makes it redundant.
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class CompactEmbeddingNet(nn.Module):
    """A small modern embedding net for the chapters beyond the paper.

    Four conv-BN-ReLU blocks (``width``, 2x, 4x, 4x channels) with 2x2 max pooling after the
    first three, global average pooling and a linear projection. About 0.25 M parameters
    (160x fewer than the paper's branch) and, thanks to global pooling, any input of at least
    32x32 works, so the same weights run on 100x100 and on the original 200x200 images.
    ``centre=True`` stores SimpleShot's base-class mean in the net (buffer ``base_mean``, set
    by training, kept in the checkpoint): in eval mode the net then returns the centred,
    unit-length feature itself, so every caller of the net gets what chapter 8 scores.
    ``within_class=True`` (needs ``centre``) adds a whitening by the training classes'
    within-class spread after it (buffers ``metric_mean``, ``metric``; see
    :func:`finish_feature`); until training sets them they change nothing.
    ``coarse_view=True`` (needs ``centre``) also embeds every image at half size, finishes that
    feature with statistics of its own (buffers ``coarse_mean``, and with ``within_class``
    ``coarse_metric_mean``, ``coarse_metric``) and returns both joined: ``2 * embedding_dim``
    numbers, more robust to a softer camera, for 1.3-1.4x the query time (chapter 8). Add it
    to a trained net with :func:`oneshot_steel.metric.add_coarse_view`.
    """

    min_size: int = 32
    #: The buffers that finish each view: (mean, metric_mean, metric) of the image, then of
    #: its coarse view.
    _VIEW_BUFFERS = (
        ("base_mean", "metric_mean", "metric"),
        ("coarse_mean", "coarse_metric_mean", "coarse_metric"),
    )

    def __init__(
        self,
        embedding_dim: int = 64,
        width: int = 32,
        *,
        in_channels: int = 1,
        centre: bool = False,
        within_class: bool = False,
        coarse_view: bool = False,
    ):
        super().__init__()
        if within_class and not centre:
            raise ValueError("within_class=True needs centre=True (it whitens centred features)")
        if coarse_view and not centre:
            raise ValueError("coarse_view=True needs centre=True (each view is centred apart)")
        if embedding_dim < 1 or width < 1 or in_channels < 1:
            raise ValueError(
                f"embedding_dim, width and in_channels must be positive; got "
                f"{embedding_dim}, {width}, {in_channels}"
            )
        self.embedding_dim = embedding_dim
        self.width = width
        self.in_channels = in_channels
        self.image_size: int | None = None  # any size >= min_size
        w = width
        self.features = nn.Sequential(
            OrderedDict(
                [
                    ("block1", _conv_bn_relu(in_channels, w)),
                    ("pool1", nn.MaxPool2d(2)),
                    ("block2", _conv_bn_relu(w, 2 * w)),
                    ("pool2", nn.MaxPool2d(2)),
                    ("block3", _conv_bn_relu(2 * w, 4 * w)),
                    ("pool3", nn.MaxPool2d(2)),
                    ("block4", _conv_bn_relu(4 * w, 4 * w)),
                    ("gap", nn.AdaptiveAvgPool2d(1)),
                    ("flatten", nn.Flatten()),
                ]
            )
        )
        self.head = nn.Linear(4 * w, embedding_dim)
        self.centre = centre
        self.within_class = within_class
        self.coarse_view = coarse_view
        for mean, metric_mean, metric in self._VIEW_BUFFERS[: 1 + coarse_view] if centre else ():
            self.register_buffer(mean, torch.zeros(embedding_dim))
            if within_class:
                self.register_buffer(metric_mean, torch.zeros(embedding_dim))
                self.register_buffer(metric, torch.eye(embedding_dim))

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """The feature before SimpleShot centring (what training and ``base_mean`` read)."""
        check_image_batch(x, type(self).__name__, channels=self.in_channels, min_size=self.min_size)
        return self.head(self.features(x))

    def raw_views(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The raw feature of each view of ``x``: the image, then (coarse view) its half size."""
        if not self.coarse_view:
            return [self.raw(x)]
        least = 2 * self.min_size  # so that the half-size view is at least min_size
        check_image_batch(
            x,
            f"{type(self).__name__} with a coarse view",
            channels=self.in_channels,
            min_size=least,
        )
        return [self.raw(x), self.raw(shrink_by_half(x))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` float in [-1, 1], H, W >= 32 -> ``[B, embedding_dim]`` (in eval
        mode with a coarse view: H, W >= 64 -> ``[B, 2 * embedding_dim]``)."""
        if not (self.centre and not self.training):
            return self.raw(x)
        # SimpleShot (ch. 8): each view centred, then unit length (and whitened); joined
        views = self.raw_views(x)
        return join_views([finish_feature(f, *self.view_buffers(i)) for i, f in enumerate(views)])

    def metric_buffers(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``(metric_mean, metric)`` when the net whitens within-class, else ``(None, None)``."""
        return self.view_buffers(0)[1:]

    def view_buffers(
        self, view: int
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """``(mean, metric_mean, metric)`` that finish view ``view`` (0: the image, 1: its
        coarse view); the last two are None unless the net whitens within-class."""
        names = self._VIEW_BUFFERS[view]
        mean = getattr(self, names[0])
        if not self.within_class:
            return mean, None, None
        return mean, getattr(self, names[1]), getattr(self, names[2])


class SiameseNetwork(nn.Module):
    """Two weight-sharing branches and the Euclidean distance between their outputs (eq. 2).

    "Two branches" is one module applied twice. We run both inputs as one concatenated batch:
    one pass instead of two, and BatchNorm (if the branch has any) sees both halves.
    """

    def __init__(self, embedding_net: nn.Module):
        super().__init__()
        self.embedding_net = embedding_net

    @property
    def embedding_dim(self) -> int | None:
        """Length of the branch's output vector (None when the branch does not say)."""
        return getattr(self.embedding_net, "embedding_dim", None)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embed one batch ``[B, 1, S, S]`` -> ``[B, D]`` (what evaluation uses)."""
        return self.embedding_net(x)

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, return_embeddings: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Distance ``[B]`` between the embeddings of ``x1[i]`` and ``x2[i]``.

        With ``return_embeddings=True`` returns ``(distance, e1, e2)``.
        """
        if not isinstance(x1, torch.Tensor) or not isinstance(x2, torch.Tensor):
            raise ModelInputError("SiameseNetwork expects two tensors x1, x2")
        if x1.shape != x2.shape:
            raise ModelInputError(
                f"SiameseNetwork expects x1 and x2 of the same shape [B, 1, S, S]; got "
                f"{tuple(x1.shape)} and {tuple(x2.shape)}"
            )
        emb = self.embedding_net(torch.cat([x1, x2], dim=0))
        e1, e2 = emb.split(x1.shape[0], dim=0)
        distance = euclidean_distance(e1, e2)
        if return_embeddings:
            return distance, e1, e2
        return distance


#: torchvision's ImageNet normalisation (the pretrained weights expect it).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ResNet18Embedding(nn.Module):
    """torchvision's ResNet-18 without its classifier: ``[B, 1, S, S]`` in [-1, 1] -> ``[B, D]``.

    The grey image is repeated over the three colour channels and normalised as ImageNet
    images were, so pretrained filters see the statistics they were trained on. The 512-d
    global-average-pooled features are the embedding (``embedding_dim=512``); any other size
    adds a linear projection. Built untrained: load weights with
    :func:`~oneshot_steel.transfer.load_imagenet_weights` or from a checkpoint.
    """

    min_size: int = 32
    feature_dim: int = 512

    def __init__(self, embedding_dim: int = 512, *, in_channels: int = 1):
        super().__init__()
        from torchvision.models import resnet18  # lazy: torchvision is only needed here

        if embedding_dim < 1 or in_channels != 1:
            raise ValueError(
                f"ResNet18Embedding needs embedding_dim >= 1 and grey input (in_channels=1); "
                f"got {embedding_dim}, {in_channels}"
            )
        self.embedding_dim = embedding_dim
        self.in_channels = in_channels
        self.image_size: int | None = None  # any size >= min_size
        self.backbone = resnet18(weights=None)
        self.backbone.fc = nn.Identity()
        self.head = (
            nn.Identity()
            if embedding_dim == self.feature_dim
            else nn.Linear(self.feature_dim, embedding_dim)
        )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, type(self).__name__, channels=1, min_size=self.min_size)
        rgb = ((x + 1) / 2).expand(-1, 3, -1, -1)  # [-1, 1] -> [0, 1], grey -> 3 channels
        return self.head(self.backbone((rgb - self.mean) / self.std))


_MODELS: dict[str, type[nn.Module]] = {
    "paper": PaperEmbeddingNet,
    "compact": CompactEmbeddingNet,
    "wdcnn": WDCNNEmbeddingNet,  # signal windows [B, C, L] (chapter 11)
    "gru": GRUEmbeddingNet,
    "resnet18": ResNet18Embedding,  # torchvision is imported when one is built
}


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """An embedding net by name: ``"paper"`` (Fig. 1), ``"compact"``, ``"resnet18"``
    (:class:`ResNet18Embedding`, untrained), or for signal windows ``"wdcnn"`` and ``"gru"``
    (:mod:`.sequence_nets`); kwargs go to its class."""
    try:
        cls = _MODELS[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown model {name!r}; choose one of {sorted(_MODELS)}") from None
    return cls(**kwargs)
