"""Named checks of the book's first part, *Foundations*: chapters 1-4 (data, augmentation,
contrastive loss, Siamese network).

Imported by the package's ``__init__``, which registers them.
"""

from __future__ import annotations

from typing import Any

import torch

from .generic import (
    CheckResult,
    _call,
    _fail,
    _passed,
    check_close,
    check_function,
)
from .registry import register


# ------------------------------------------------------------ chapter 1: the data set
@register("ch01.duplicates")
def _ch01_duplicates(candidate: Any, data: Any = None) -> CheckResult:
    """``candidate(images_uint8)`` must return the groups of identical images.

    Checked on the chapter's images (when ``data`` is given) and on a small set with planted
    copies, so that it also bites on data without duplicates (the synthetic stand-in). The
    reference is :func:`~oneshot_steel.data.find_duplicates` on an ImageSet without digests,
    i.e. on the stored pixels, which are what the learner hashes. Group order does not matter.
    """
    from ..data.imageset import ImageSet
    from ..data.splits import find_duplicates

    what = "duplicate groups"
    hint = (
        "hash each image's bytes, e.g. hashlib.sha256(images[i].numpy().tobytes()).hexdigest(), "
        "collect the indices of equal hashes and keep the groups with two or more members."
    )
    g = torch.Generator().manual_seed(0)
    planted = torch.randint(0, 256, (40, 1, 8, 8), generator=g, dtype=torch.uint8)
    planted[17] = planted[3]
    planted[30] = planted[3]
    planted[25] = planted[9]
    cases = ([data.images] if data is not None else []) + [planted]
    for n_case, images in enumerate(cases, start=1):
        n = len(images)
        reference = ImageSet(
            images, torch.zeros(n, dtype=torch.int64), ["all"], [str(i) for i in range(n)]
        )
        want = sorted(sorted(group) for group in find_duplicates(reference))
        got = _call(candidate, what, hint, images.clone())
        try:
            got = sorted(sorted(int(i) for i in group) for group in got)
        except (TypeError, ValueError):
            _fail(what, f"expected a list of lists of indices, got {got!r:.200}", hint)
        if got != want:
            _fail(
                what,
                f"on image set {n_case} of {len(cases)} ({n} images) expected the "
                f"groups {want}, got {got}",
                hint,
            )
    return _passed(what, f"{len(cases)} image sets")


# ------------------------------------------------------------ chapter 2: augmentation
@register("ch02.dihedral_views")
def _ch02_dihedral_views(candidate: Any) -> CheckResult:
    """``candidate(image [C, S, S])`` must return its 8 rotations/flips ``[8, C, S, S]``.

    Compared as a set (any order) with :func:`oneshot_steel.augment.augment_views`, on a small
    image whose pixels are all different (so the 8 views are all different) and a random one.
    """
    from ..augment import augment_views

    what = "the eight rotations and flips"
    hint = (
        "the 4 rotations torch.rot90(image, k, dims=(-2, -1)) for k = 0..3, and the same 4 of "
        "torch.flip(image, dims=(-1,)); stack them with torch.stack."
    )
    g = torch.Generator().manual_seed(0)
    cases = [
        torch.randperm(36, generator=g).to(torch.uint8).reshape(1, 6, 6),
        torch.randint(0, 256, (1, 100, 100), generator=g, dtype=torch.uint8),
    ]
    for image in cases:
        want = augment_views(image)
        got = _call(candidate, what, hint, image.clone())
        if not isinstance(got, torch.Tensor):
            _fail(what, f"expected a tensor, got a {type(got).__name__}", hint)
        if tuple(got.shape) != tuple(want.shape):
            _fail(what, f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}", hint)
        views = [v.detach().cpu().to(torch.uint8).numpy().tobytes() for v in got]
        if len(set(views)) != len(views):
            _fail(
                what,
                "some of your 8 views are the same image: two of your transforms "
                "coincide (for example, a vertical flip equals a 180-degree turn of the "
                "horizontally flipped image)",
                hint,
            )
        missing = {v.numpy().tobytes() for v in want} - set(views)
        if missing:
            _fail(what, f"{len(missing)} of your views are not rotations/flips of the image", hint)
    return _passed(what, f"{len(cases)} test images")


@register("ch02.brightness")
def _ch02_brightness(candidate: Any) -> CheckResult:
    """``candidate(images_uint8 [B, 1, S, S], beta [B])`` must return eq. (4) as floats 0..255.

    The reference is :func:`oneshot_steel.augment.augment_batch` with rotations and flips off:
    its output, mapped back from [-1, 1] to 0..255, is eq. (4) with the offsets it drew, which
    are read off a pixel of value 128 (no offset up to 40 clips it). Offsets up to +-40 and
    pixels 0 and 255 in every image make sure clipping is exercised at both ends.
    """
    from ..augment import augment_batch

    what = "brightness perturbation, eq. (4)"
    hint = (
        "work in float: images.float() + beta[:, None, None, None], then .clamp(0, 255); "
        "do not round and do not scale to [-1, 1]."
    )
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (64, 1, 12, 12), generator=g, dtype=torch.uint8)
    images[:, 0, 0, :3] = torch.tensor([128, 0, 255], dtype=torch.uint8)
    out = augment_batch(
        images, torch.Generator().manual_seed(1), rotate=False, flip=False, brightness=40.0
    )
    want = (out + 1.0) * 127.5
    beta = want[:, 0, 0, 0] - 128.0
    got = _call(candidate, what, hint, images.clone(), beta.clone())
    return check_close(got, want, what, rtol=0.0, atol=1e-3, hint=hint)


# ------------------------------------------------------------ chapter 3: the contrastive loss
@register("ch03.contrastive_loss")
def _ch03_contrastive_loss(candidate: Any) -> CheckResult:
    """``candidate(distance, same, margin)`` must return the batch mean of eq. (1).

    Distances exactly 0 and exactly at the margin, both labels, batches of one kind only, and
    four margins; the reference is :func:`oneshot_steel.losses.contrastive_loss`.
    """
    from ..losses import contrastive_loss

    g = torch.Generator().manual_seed(0)
    distance = torch.cat([torch.tensor([0.0, 0.5, 1.0, 2.0, 4.0]), 5 * torch.rand(59, generator=g)])
    same = (torch.rand(64, generator=g) < 0.5).float()
    same[:5] = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0])
    inputs = [(distance, same, margin) for margin in (0.5, 1.0, 2.0, 4.0)]
    inputs += [
        (distance[same == 1], same[same == 1], 2.0),
        (distance[same == 0], same[same == 0], 2.0),
    ]
    return check_function(
        candidate,
        contrastive_loss,
        inputs,
        "contrastive loss, eq. (1)",
        hint="same = 1 means the SAME class (pull: D^2 / 2); different classes pay "
        "max(0, margin - D)^2 / 2; return the mean over the pairs (one number).",
    )


# ------------------------------------------------------------ chapter 4: the Siamese network
@register("ch04.paper_param_count")
def _ch04_paper_param_count(candidate: Any) -> CheckResult:
    """``candidate(image_size, embedding_dim)`` must count the parameters of the paper's branch.

    The reference builds :class:`~oneshot_steel.models.PaperEmbeddingNet` on the ``meta``
    device, which allocates nothing, so even the 200x200 branch (320 M weights) costs no memory.
    """
    from ..models import PaperEmbeddingNet

    def reference(image_size: int, embedding_dim: int) -> int:
        with torch.device("meta"):
            model = PaperEmbeddingNet(image_size=image_size, embedding_dim=embedding_dim)
        return sum(p.numel() for p in model.parameters())

    inputs = [(size, dim) for size in (28, 64, 100, 200) for dim in (5, 64)]
    return check_function(
        candidate,
        reference,
        inputs,
        "parameters of the paper's branch",
        rtol=0.0,
        atol=0.0,
        hint="only fc1 depends on the image size: its input has 8 * S * S numbers; every conv "
        "and linear layer has one bias per output channel or unit.",
    )
