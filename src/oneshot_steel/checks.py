"""Self-checks for the book's coding exercises: a clear pass, a clear fail, or "not yet".

A coding exercise leaves a placeholder for the learner (``answer = ...``) and ends with a check::

    from oneshot_steel.checks import check
    check("ch03.contrastive_loss", my_contrastive_loss)

- a correct answer prints ``✅ pass: ...`` and returns a true :class:`CheckResult`;
- a placeholder still in place (``...`` or ``None``) prints ``✏️ not answered yet: ...`` and
  returns a false one, so the executed book (which runs the starter code) shows the prompt, not
  an error;
- a wrong answer raises :class:`CheckFailed` whose message starts with ``❌ fail:``, names what
  was checked, what was expected and what was received, and gives a hint. In Jupyter it is shown
  without a traceback. Because it raises, a solution cell that calls the same check makes the
  book build fail if the solution is wrong.

The generic checks (:func:`check_close`, :func:`check_equal`, :func:`check_shape`,
:func:`check_true`, :func:`check_function`) take the expected value as an argument.

Adding a chapter's check: append a function at the bottom of this module, decorated with
``@register("chNN.what")``. It receives the learner's value (and any keyword arguments the
notebook passes), computes the expected answer **with the package's own code** (never a number
typed in by hand, which would silently go stale), and returns the result of a generic check::

    @register("ch03.contrastive_loss")
    def _ch03_contrastive_loss(candidate) -> CheckResult:
        from .losses import contrastive_loss
        g = torch.Generator().manual_seed(0)
        distance, same = torch.rand(16, generator=g) * 3, (torch.rand(16, generator=g) < 0.5).float()
        return check_function(candidate, contrastive_loss, [(distance, same)], "contrastive loss",
                              hint="y = 1 means the same class; average over the batch.")

Import heavy modules inside the function, so that importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "CHECKS",
    "CheckFailed",
    "CheckResult",
    "check",
    "check_close",
    "check_equal",
    "check_function",
    "check_shape",
    "check_true",
    "register",
]

PASS, FAIL, TODO = "✅ pass", "❌ fail", "✏️ not answered yet"

#: Named checks: "chNN.what" -> function(value, **kwargs) -> CheckResult. See :func:`register`.
CHECKS: dict[str, Callable[..., CheckResult]] = {}


class CheckResult:
    """The outcome of a check: true when it passed. Jupyter shows only the printed message."""

    def __init__(self, passed: bool, message: str) -> None:
        self.passed, self.message = passed, message

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"CheckResult(passed={self.passed}, message={self.message!r})"

    def _ipython_display_(self) -> None:
        pass  # the message is printed already; an extra "True"/"False" line would only confuse


class CheckFailed(AssertionError):
    """A learner's answer is wrong; the message says what was expected and gives a hint."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the message is all a learner needs.
        return [str(self)]


def _unanswered(value: Any) -> bool:
    return value is None or value is Ellipsis


def _todo(what: str) -> CheckResult:
    message = (
        f"{TODO}: {what}. Replace the `...` placeholder with your answer and run the cell again."
    )
    print(message)
    return CheckResult(False, message)


def _passed(what: str, detail: str = "") -> CheckResult:
    message = f"{PASS}: {what}" + (f" ({detail})" if detail else "")
    print(message)
    return CheckResult(True, message)


def _fail(what: str, problem: str, hint: str = "") -> None:
    raise CheckFailed(f"{FAIL}: {what}: {problem}" + (f"\nHint: {hint}" if hint else ""))


def _as_array(value: Any) -> np.ndarray:
    """A float64 NumPy copy of a tensor (any device, with or without grad), array or number."""
    if isinstance(value, torch.Tensor):
        value = value.detach().to("cpu", torch.float64).numpy()
    return np.asarray(value, dtype=np.float64)


def _short(a: np.ndarray) -> str:
    return np.array2string(a, precision=4, threshold=8, edgeitems=2, suppress_small=True)


def _close_problem(actual: Any, expected: Any, rtol: float, atol: float) -> str | None:
    """What is wrong with ``actual`` as an approximation of ``expected``, or None."""
    try:
        got = _as_array(actual)
    except (TypeError, ValueError):
        return f"expected numbers, got a {type(actual).__name__}"
    want = _as_array(expected)
    if got.shape != want.shape:
        return f"expected shape {tuple(want.shape)}, got shape {tuple(got.shape)}"
    if not np.all(np.isfinite(got) | ~np.isfinite(want)):
        return f"got non-finite values {_short(got)}"
    if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
        err = float(np.max(np.abs(got - want))) if got.size else 0.0
        return f"expected {_short(want)}, got {_short(got)} (largest error {err:.3g})"
    return None


def check_close(
    actual: Any, expected: Any, what: str, *, rtol: float = 1e-5, atol: float = 1e-6, hint: str = ""
) -> CheckResult:
    """Pass when ``actual`` has ``expected``'s shape and every entry is close to it."""
    if _unanswered(actual):
        return _todo(what)
    problem = _close_problem(actual, expected, rtol, atol)
    if problem:
        _fail(what, problem, hint)
    return _passed(what)


def check_equal(actual: Any, expected: Any, what: str, *, hint: str = "") -> CheckResult:
    """Pass when ``actual == expected`` (element-wise for tensors and arrays)."""
    if _unanswered(actual):
        return _todo(what)
    if isinstance(actual, torch.Tensor | np.ndarray) or isinstance(
        expected, torch.Tensor | np.ndarray
    ):
        got, want = _as_array(actual), _as_array(expected)
        ok = got.shape == want.shape and bool(np.array_equal(got, want))
    else:
        got, want = actual, expected
        ok = actual == expected
    if not ok:
        _fail(what, f"expected {want!r}, got {got!r}", hint)
    return _passed(what)


def check_shape(
    actual: Any, expected_shape: Sequence[int], what: str, *, hint: str = ""
) -> CheckResult:
    """Pass when ``actual`` (a tensor or an array) has the shape ``expected_shape``."""
    if _unanswered(actual):
        return _todo(what)
    shape = getattr(actual, "shape", None)
    if shape is None:
        _fail(what, f"expected a tensor or array, got a {type(actual).__name__}", hint)
    if tuple(shape) != tuple(expected_shape):
        _fail(what, f"expected shape {tuple(expected_shape)}, got {tuple(shape)}", hint)
    return _passed(what, f"shape {tuple(shape)}")


def check_true(
    condition: Any, what: str, *, problem: str = "the condition is false", hint: str = ""
) -> CheckResult:
    """Pass when ``condition`` is true; ``problem`` says what is wrong otherwise."""
    if _unanswered(condition):
        return _todo(what)
    if not bool(condition):
        _fail(what, problem, hint)
    return _passed(what)


def check_function(
    candidate: Any,
    reference: Callable[..., Any],
    inputs: Iterable[Any],
    what: str,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    hint: str = "",
) -> CheckResult:
    """Pass when ``candidate(*args)`` is close to ``reference(*args)`` for every ``args``.

    Each item of ``inputs`` is a tuple of positional arguments (a non-tuple is one argument).
    Tensors are cloned for each call, so a function that writes into its input cannot fool it.
    """
    if _unanswered(candidate):
        return _todo(what)
    if not callable(candidate):
        _fail(what, f"expected a function, got a {type(candidate).__name__}", hint)
    count = 0
    for n, args in enumerate(inputs, start=1):
        args = args if isinstance(args, tuple) else (args,)

        def fresh(args: tuple = args) -> tuple:
            return tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)

        want = reference(*fresh())
        try:
            got = candidate(*fresh())
        except Exception as err:  # the learner's code raised: report it as a failed check
            _fail(what, f"on test input {n} your function raised {type(err).__name__}: {err}", hint)
        if _unanswered(got):
            _fail(what, f"on test input {n} your function returned {got!r}", hint)
        problem = _close_problem(got, want, rtol, atol)
        if problem:
            _fail(what, f"on test input {n}, {problem}", hint)
        count = n
    return _passed(what, f"{count} test input{'s' * (count != 1)}")


def register(name: str) -> Callable[[Callable[..., CheckResult]], Callable[..., CheckResult]]:
    """Decorator adding a named check to :data:`CHECKS` (names must be unique)."""

    def add(fn: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        if name in CHECKS:
            raise ValueError(f"A check named {name!r} is already registered ({CHECKS[name]}).")
        CHECKS[name] = fn
        return fn

    return add


def check(name: str, value: Any, **kwargs: Any) -> CheckResult:
    """Run the named check on ``value``: see the module docstring for the three outcomes."""
    if name not in CHECKS:
        known = ", ".join(sorted(CHECKS)) or "none yet"
        raise KeyError(f"No check named {name!r}. Known checks: {known}.")
    if _unanswered(value):
        return _todo(name)
    return CHECKS[name](value, **kwargs)


# --------------------------------------------------------------------------------------------
# Chapter checks: append below, one @register function per exercise (see the module docstring).


# ------------------------------------------------------------ chapter 3: the contrastive loss
@register("ch03.contrastive_loss")
def _ch03_contrastive_loss(candidate: Any) -> bool:
    """``candidate(distance, same, margin)`` must return the batch mean of eq. (1).

    Distances exactly 0 and exactly at the margin, both labels, batches of one kind only, and
    four margins; the reference is :func:`oneshot_steel.losses.contrastive_loss`.
    """
    from .losses import contrastive_loss

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
def _ch04_paper_param_count(candidate: Any) -> bool:
    """``candidate(image_size, embedding_dim)`` must count the parameters of the paper's branch.

    The reference builds :class:`~oneshot_steel.models.PaperEmbeddingNet` on the ``meta``
    device, which allocates nothing, so even the 200x200 branch (320 M weights) costs no memory.
    """
    from .models import PaperEmbeddingNet

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


# ------------------------------------------------------------ chapter 1: the data set
def _call(candidate: Any, what: str, hint: str, *args: Any) -> Any:
    """``candidate(*args)``, turning a learner's exception or placeholder into a failed check."""
    if not callable(candidate):
        _fail(what, f"expected a function, got a {type(candidate).__name__}", hint)
    try:
        result = candidate(*args)
    except Exception as err:  # the learner's code raised: report it as a failed check
        _fail(what, f"your function raised {type(err).__name__}: {err}", hint)
    if _unanswered(result):
        _fail(what, f"your function returned {result!r}", hint)
    return result


@register("ch01.duplicates")
def _ch01_duplicates(candidate: Any, data: Any = None) -> CheckResult:
    """``candidate(images_uint8)`` must return the groups of identical images.

    Checked on the chapter's images (when ``data`` is given) and on a small set with planted
    copies, so that it also bites on data without duplicates (the synthetic stand-in). The
    reference is :func:`~oneshot_steel.data.find_duplicates` on an ImageSet without digests,
    i.e. on the stored pixels, which are what the learner hashes. Group order does not matter.
    """
    from .data.imageset import ImageSet
    from .data.splits import find_duplicates

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
    from .augment import augment_views

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
    from .augment import augment_batch

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


# ------------------------------------------------------------ chapter 5: training
@register("ch05.pair_loss")
def _ch05_pair_loss(candidate: Any) -> CheckResult:
    """``candidate(net, images, idx1, idx2, same, margin)``: mean contrastive loss of the pairs.

    No augmentation: the images are scaled with :func:`~oneshot_steel.augment.to_model_input`.
    The reference embeds both sides in one pass of a small paper branch (32 px, no BatchNorm,
    so one pass or two give the same numbers) and applies
    :func:`~oneshot_steel.losses.contrastive_loss`; three batches, margins 1, 2 and 4.
    """
    from .augment import to_model_input
    from .losses import contrastive_loss, euclidean_distance
    from .models import PaperEmbeddingNet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = PaperEmbeddingNet(image_size=32).eval()
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (20, 1, 32, 32), generator=g, dtype=torch.uint8)

    def reference(net, images, idx1, idx2, same, margin):
        e1, e2 = net(to_model_input(torch.cat([images[idx1], images[idx2]]))).chunk(2)
        return contrastive_loss(euclidean_distance(e1, e2), same, margin)

    inputs = []
    for n, margin in ((8, 2.0), (16, 1.0), (6, 4.0)):
        idx1 = torch.randint(0, 20, (n,), generator=g)
        idx2 = (idx1 + 1 + torch.randint(0, 19, (n,), generator=g)) % 20
        same = (torch.rand(n, generator=g) < 0.5).float()
        same[:2] = torch.tensor([1.0, 0.0])  # both kinds of pair in every batch
        inputs.append((net, images, idx1, idx2, same, margin))
    with torch.no_grad():
        return check_function(
            candidate,
            reference,
            inputs,
            "contrastive loss of a batch of pairs",
            rtol=1e-4,
            atol=1e-5,
            hint="x = torch.cat([images[idx1], images[idx2]]).float() / 127.5 - 1; e1, e2 = "
            "net(x).chunk(2); D = ||e1 - e2||; mean of same * D^2 / 2 + (1 - same) * "
            "max(0, margin - D)^2 / 2.",
        )


# ------------------------------------------------------------ chapter 6: one-shot evaluation
def _ch06_embedded_set(seed: int, n_classes: int = 5, per_class: int = 24, dim: int = 8):
    """Overlapping Gaussian clusters as embeddings, with an ImageSet carrying their labels."""
    from .data.imageset import ImageSet

    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n_classes).repeat_interleave(per_class)
    centres = 1.5 * torch.randn(n_classes, dim, generator=g)
    emb = centres[labels] + torch.randn(len(labels), dim, generator=g)  # errors do happen
    n = len(labels)
    data = ImageSet(torch.zeros(n, 1, 4, 4, dtype=torch.uint8), labels,
                    [f"c{i}" for i in range(n_classes)], [f"x{i}" for i in range(n)])
    return emb, data


@register("ch06.episode_accuracy")
def _ch06_episode_accuracy(candidate: Any) -> CheckResult:
    """``candidate(emb [M, D], support [E, N, K], query [E, N, Q])`` -> accuracy per episode [E].

    The episodes come from :class:`~oneshot_steel.sampling.EpisodeSampler`; the reference is
    ``per_episode`` of :func:`~oneshot_steel.evaluate.episodic_accuracy` on the same episodes
    (same sampler, same seed), for 1-shot and 5-shot, 3-way and 5-way.
    """
    from .evaluate import episodic_accuracy
    from .sampling import EpisodeSampler

    what = "accuracy of each N-way K-shot episode"
    hint = (
        "prototypes = emb[support].mean(dim=2) -> [E, N, D]; queries = emb[query] -> [E, N, Q, D]; "
        "the distance of every query to every prototype of ITS episode, argmin over N, compared "
        "with the query's row index n; average over the N * Q queries of each episode."
    )
    cases = [(3, 1, 5, 40, 0), (3, 5, 4, 30, 1), (5, 1, 3, 25, 2), (5, 5, 2, 20, 3)]
    for n_case, (n_way, k_shot, n_query, n_episodes, seed) in enumerate(cases, start=1):
        emb, data = _ch06_embedded_set(seed)
        eps = EpisodeSampler(data.labels, n_way, k_shot, n_query, seed=seed).sample(n_episodes)
        want = episodic_accuracy(emb, data, n_way, k_shot, n_query, n_episodes, seed).per_episode
        got = _call(candidate, what, hint, emb.clone(), eps.support.clone(), eps.query.clone())
        problem = _close_problem(got, want, 1e-6, 1e-6)
        if problem:
            _fail(what, f"on {n_way}-way {k_shot}-shot episodes (case {n_case}), {problem}", hint)
    return _passed(what, f"{len(cases)} episode settings")


@register("ch06.best_threshold")
def _ch06_best_threshold(candidate: Any) -> CheckResult:
    """``candidate(distances [P], same [P])`` -> a threshold t maximising the accuracy of
    "same iff distance < t". Any t reaching the best accuracy passes; the best accuracy comes
    from :func:`~oneshot_steel.evaluate.best_threshold`. Cases: overlapping classes, separable
    classes, tied (rounded) distances.
    """
    from .evaluate import best_threshold

    what = "a threshold chosen for the best accuracy"
    hint = (
        "sort the distances; try a threshold between each pair of neighbours (and below the "
        "smallest and above the largest), keep the one with the highest accuracy of "
        "(distances < t) == same."
    )
    g = torch.Generator().manual_seed(0)
    cases = []
    for n, gap in ((200, 0.8), (60, 3.0), (300, 0.3)):
        same = (torch.rand(n, generator=g) < 0.5).float()
        d = (1.0 + gap * (1 - same) + 0.6 * torch.randn(n, generator=g)).abs()
        cases.append((d, same))
    cases.append(((cases[0][0] * 10).round() / 10, cases[0][1]))  # ties
    for n_case, (d, same) in enumerate(cases, start=1):
        _, best = best_threshold(d, same)
        t = _call(candidate, what, hint, d.clone(), same.clone())
        try:
            t = float(t)
        except (TypeError, ValueError):
            _fail(what, f"expected a number, got {t!r:.100}", hint)
        right, best_right = int(((d < t).float() == same).sum()), round(best * len(d))
        if right < best_right:  # counts, not float means: no rounding can fail a right answer
            _fail(what, f"on case {n_case} ({len(d)} pairs) your threshold {t:.4g} classifies "
                  f"{right} pairs right, the best threshold {best_right}", hint)
    return _passed(what, f"{len(cases)} sets of pairs")


# ------------------------------------------------------------ chapter 7: baselines
@register("ch07.knn_predict")
def _ch07_knn_predict(candidate: Any, data: Any = None) -> CheckResult:
    """``candidate(x [N, D], labels [N], support_idx [C])`` -> predicted class of every image.

    The rule of the paper's KNN baseline: each image gets the label of its nearest support
    (Euclidean distance), the supports being one image per class. The reference is
    :func:`~oneshot_steel.baselines.knn_paper_protocol` (scikit-learn 1-NN) on the same pixels;
    the confusion matrices must be equal. Cases: random images with the supports given in
    class order and out of it, and (when ``data`` is given) the chapter's own images at 32x32
    with the paper's supports ``Cr_1`` ... ``Sc_1``.
    """
    from pathlib import Path

    from sklearn.metrics import confusion_matrix

    from .baselines import knn_paper_protocol, raw_pixels
    from .data.imageset import ImageSet

    what = "1-nearest-neighbour predictions of the paper's KNN protocol"
    hint = (
        "d = torch.cdist(x, x[support_idx]) gives [N, C] distances; the nearest support is "
        "d.argmin(dim=1), and its CLASS is labels[support_idx][nearest] (the supports need not "
        "be listed in class order)."
    )
    g = torch.Generator().manual_seed(0)
    cases = []
    for n_cls, per, size in ((4, 15, 8), (6, 10, 6)):
        n = n_cls * per
        images = torch.randint(0, 256, (n, 1, size, size), generator=g, dtype=torch.uint8)
        labels = torch.arange(n_cls).repeat_interleave(per)
        first = torch.arange(n_cls) * per + torch.randint(0, per, (n_cls,), generator=g)
        support = first[torch.randperm(n_cls, generator=g)]  # out of class order on purpose
        named = ImageSet(
            images, labels, [f"c{i}" for i in range(n_cls)], [f"img{i}.bmp" for i in range(n)]
        )
        ref = knn_paper_protocol(named, size=size, supports=[f"img{int(i)}" for i in support])
        cases.append((raw_pixels(images, size), labels, support, ref))
    if data is not None:
        ref = knn_paper_protocol(data, size=32)
        stems = {Path(p).stem: i for i, p in enumerate(data.paths)}
        support = torch.tensor([stems[Path(p).stem] for p in ref.supports])
        cases.append((raw_pixels(data.images, 32), data.labels.clone(), support, ref))
    for n_case, (x, labels, support, ref) in enumerate(cases, start=1):
        got = _call(candidate, what, hint, x.clone(), labels.clone(), support.clone())
        try:
            pred = _as_array(got).astype(np.int64).ravel()
        except (TypeError, ValueError):
            _fail(what, f"expected a tensor of class indices, got {type(got).__name__}", hint)
        if pred.shape != (len(labels),):
            _fail(what, f"expected {len(labels)} predictions, got shape {tuple(pred.shape)}", hint)
        cm = confusion_matrix(labels.numpy(), pred, labels=list(range(len(ref.classes))))
        if cm.tolist() != ref.confusion:
            right = int(np.trace(cm))
            _fail(
                what,
                f"on case {n_case} of {len(cases)} you classify {right} of {len(labels)} "
                f"images right, the reference {ref.n_correct} (confusion matrices differ)",
                hint,
            )
    return _passed(what, f"{len(cases)} image sets")


# ------------------------------------------------------------ chapter 9: inspection in practice
@register("ch09.cheapest_threshold")
def _ch09_cheapest_threshold(candidate: Any) -> CheckResult:
    """``candidate(d_known, d_unknown, cost_fa, cost_fr)`` -> a rejection threshold t.

    A part is accepted iff its distance is <= t (the rule of ``OneShotClassifier.predict``).
    Any t whose cost ``cost_fa * (unknown accepted) + cost_fr * (known rejected)`` equals the
    minimum of :func:`~oneshot_steel.deploy.cheapest_threshold` passes. Cases: overlapping
    distances at equal, false-accept-heavy and false-reject-heavy costs; tied distances;
    separable distances (the cost can reach 0).
    """
    from .deploy import cheapest_threshold

    what = "the cheapest rejection threshold"
    hint = (
        "try a threshold between each pair of neighbouring distances (and one below and one "
        "above all of them); at each, count the unknown parts with d <= t (false accepts) and "
        "the known parts with d > t (false rejects); keep the threshold of the lowest "
        "cost_fa * false_accepts + cost_fr * false_rejects."
    )
    g = torch.Generator().manual_seed(0)
    known = (1.0 + 0.4 * torch.randn(120, generator=g)).abs()
    unknown = (1.8 + 0.5 * torch.randn(60, generator=g)).abs()
    cases = [(known, unknown, 1.0, 1.0), (known, unknown, 10.0, 1.0), (known, unknown, 1.0, 10.0)]
    cases.append(((known * 5).round() / 5, (unknown * 5).round() / 5, 3.0, 1.0))  # ties
    cases.append((0.5 * known, unknown + 2.0, 1.0, 1.0))  # separable
    for n_case, (dk, du, cfa, cfr) in enumerate(cases, start=1):
        _, best = cheapest_threshold(dk, du, cfa, cfr)
        t = _call(candidate, what, hint, dk.clone(), du.clone(), cfa, cfr)
        try:
            t = float(t)
        except (TypeError, ValueError):
            _fail(what, f"expected a number, got {t!r:.100}", hint)
        fa, fr = int((du <= t).sum()), int((dk > t).sum())
        cost = cfa * fa + cfr * fr
        if cost > best + 1e-9:
            _fail(
                what,
                f"on case {n_case} (costs {cfa:g} per false accept, {cfr:g} per false reject) "
                f"your threshold {t:.4g} gives {fa} false accepts and {fr} false rejects, cost "
                f"{cost:g}; the cheapest threshold costs {best:g}",
                hint,
            )
    return _passed(what, f"{len(cases)} cases")
