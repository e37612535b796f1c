"""The book's three concept diagrams, drawn once here and shown by every chapter that needs them.

- :func:`siamese_pipeline`: two weight-sharing branches, the distance, the contrastive loss
  (chapters 3-5);
- :func:`protocols`: the three evaluation protocols with their chance levels (chapters 6-7);
- :func:`episode`: one N-way K-shot episode, its support, queries and prototypes (chapters 6, 8).

Plain matplotlib (boxes, arrows and text on a hidden axis), so a diagram renders the same in the
HTML book, in Jupyter and on Colab, and takes no data and no time.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

__all__ = ["episode", "protocols", "siamese_pipeline"]

#: Colours shared by the diagrams: inputs, the shared network, distances/outputs, the loss.
INPUT, NETWORK, OUTPUT, LOSS = "#dbe9f6", "#fde4c8", "#e3f1dc", "#f6d5d5"
#: One colour per class in the episode diagram.
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


def _canvas(width: float, height: float) -> tuple[Figure, Axes]:
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return fig, ax


def _box(ax: Axes, x: float, y: float, w: float, h: float, text: str, colour: str, **kw) -> None:
    """A rounded box whose lower-left corner is (x, y), with centred text."""
    ax.add_patch(
        FancyBboxPatch(
            (x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", fc=colour, ec="0.3", lw=1
        )
    )
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=kw.get("size", 10))


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], **kw) -> None:
    style = kw.pop("style", "-|>")
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, lw=1.2, **kw))


def siamese_pipeline() -> Figure:
    """Two images, ONE network applied to both (shared weights), their distance, the loss."""
    fig, ax = _canvas(10.0, 3.6)
    for y, i in ((2.35, 1), (0.45, 2)):
        _box(ax, 0.2, y, 1.3, 0.8, f"image $x_{i}$", INPUT)
        _box(ax, 2.2, y, 2.2, 0.8, r"branch $f_\theta$", NETWORK)
        _box(ax, 5.1, y, 1.5, 0.8, f"$e_{i} = f_\\theta(x_{i})$", OUTPUT, size=9)
        _arrow(ax, (1.5, y + 0.4), (2.2, y + 0.4))
        _arrow(ax, (4.4, y + 0.4), (5.1, y + 0.4))
    # The shared weights: one parameter set, drawn as a link between the two branches.
    _arrow(ax, (3.3, 2.35), (3.3, 1.25), style="<|-|>", ls="--", color="0.35")
    ax.text(3.45, 1.8, r"same weights $\theta$", fontsize=9, va="center", color="0.25")
    _box(ax, 7.1, 1.4, 1.2, 0.8, r"$D = \|e_1 - e_2\|$", OUTPUT, size=9)
    _arrow(ax, (6.6, 2.75), (7.1, 2.0))
    _arrow(ax, (6.6, 0.85), (7.1, 1.6))
    _box(ax, 8.7, 1.4, 1.2, 0.8, "loss\n$L(D, y)$", LOSS, size=9)
    _arrow(ax, (8.3, 1.8), (8.7, 1.8))
    ax.text(9.3, 1.1, "$y$ = 1 same class\n$y$ = 0 different", ha="center", va="top", fontsize=8)
    fig.tight_layout()
    return fig


def protocols() -> Figure:
    """The three protocols side by side, each with what is asked and its chance level."""
    fig, axes = plt.subplots(1, 3, figsize=(11.0, 3.4))
    panels = [
        (
            "pair verification",
            "two images: same class or not?\ndecide: distance < threshold",
            "chance 50 %",
            "the paper's 83.22 %",
        ),
        (
            "N-way K-shot episode",
            "K labelled images of each of N\nunseen classes; label the queries\n"
            "by the nearest class mean",
            "chance 1/N (3-way: 33.3 %)",
            "mean and 95 % CI\nover many episodes",
        ),
        (
            "6-way classification",
            "a classifier trained on all six\nclasses labels held-out images",
            "chance 1/6 = 16.7 %",
            "not one-shot: every class\nhas hundreds of training images",
        ),
    ]
    for ax, (title, asks, chance, note) in zip(axes, panels, strict=True):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_axis_off()
        _box(ax, 0.03, 0.72, 0.94, 0.22, title, NETWORK, size=11)
        ax.text(0.5, 0.5, asks, ha="center", va="center", fontsize=9)
        _box(ax, 0.15, 0.16, 0.7, 0.14, chance, LOSS, size=9)
        ax.text(0.5, 0.06, note, ha="center", va="top", fontsize=8, color="0.3")
    fig.tight_layout()
    return fig


def episode(n_way: int = 3, k_shot: int = 2, n_query: int = 3) -> Figure:
    """One episode: a support set of K images per class, its class means, and the queries,
    each labelled with the nearest mean. A sketch in a 2-d embedding space."""
    if not 1 <= n_way <= len(CLASS_COLOURS) or k_shot < 1 or n_query < 1:
        raise ValueError(
            f"episode() draws 1 to {len(CLASS_COLOURS)} classes and at least one support and "
            f"one query image per class; got n_way={n_way}, k_shot={k_shot}, n_query={n_query}"
        )
    import numpy as np

    rng = np.random.default_rng(0)  # a fixed sketch, not data
    angles = np.linspace(0, 2 * np.pi, n_way, endpoint=False) + 0.4
    centres = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 2.2
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.0), width_ratios=(1, 1.3))
    left.set_axis_off()
    left.set_xlim(0, 1)
    left.set_ylim(0, 1)
    left.text(0.5, 0.97, f"{n_way}-way {k_shot}-shot episode", ha="center", va="top", fontsize=12)
    for c in range(n_way):
        y = 0.78 - c * (0.7 / n_way)
        left.text(0.02, y, f"class {c + 1}", va="center", fontsize=9, color=CLASS_COLOURS[c])
        for k in range(k_shot):  # one tile per image
            tile = Rectangle((0.22 + k * 0.09, y - 0.05), 0.07, 0.1, fc=CLASS_COLOURS[c], ec="0.3")
            left.add_patch(tile)
        for q in range(n_query):
            left.add_patch(Rectangle((0.6 + q * 0.09, y - 0.05), 0.07, 0.1, fc="0.9", ec="0.3"))
            left.text(0.635 + q * 0.09, y, "?", ha="center", va="center", fontsize=9)
    left.text(0.22, 0.05, "support: labelled", fontsize=9)
    left.text(0.6, 0.05, "queries: to label", fontsize=9)
    support = [centres[c] + rng.normal(scale=0.55, size=(k_shot, 2)) for c in range(n_way)]
    queries = [centres[c] + rng.normal(scale=0.75, size=(n_query, 2)) for c in range(n_way)]
    prototypes = np.stack([s.mean(axis=0) for s in support])
    for c in range(n_way):
        colour = CLASS_COLOURS[c]
        right.scatter(*support[c].T, s=70, color=colour, marker="s")
        right.scatter(*queries[c].T, s=45, facecolors="none", edgecolors=colour, marker="o")
        right.scatter(*prototypes[c], s=260, color=colour, marker="*", edgecolors="k", zorder=3)
        for point in queries[c]:  # a query takes the label of the NEAREST prototype
            nearest = int(np.argmin(np.linalg.norm(prototypes - point, axis=1)))
            line = np.stack([point, prototypes[nearest]]).T
            right.plot(*line, color=CLASS_COLOURS[nearest], lw=0.8, alpha=0.7)
    right.set_title(
        "embeddings: squares support, stars their class means (prototypes);\n"
        "each query (circle) takes the label of the nearest star",
        fontsize=10,
    )
    right.margins(0.15)
    right.set_xticks([])
    right.set_yticks([])
    right.set_aspect("equal")
    fig.tight_layout()
    return fig
