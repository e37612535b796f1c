"""Which images meet: random pairs for the Siamese loss, N-way K-shot episodes for evaluation.

Both samplers work on a label vector only (image indices in, image indices out), draw all
their random numbers with one ``torch.Generator`` on the labels' device, and never loop over
pairs or episodes in Python. Members of a class are found through a table of image indices
sorted by class plus per-class offsets, so "the j-th image of class c" is
``order[offset[c] + j]``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import torch

__all__ = ["Episode", "EpisodeSampler", "Episodes", "PairSampler", "Pairs"]


def _derive_seed(*parts: int) -> int:
    """A 63-bit seed from several integers, stable across processes (unlike ``hash``).

    Seeding epoch ``e`` with ``seed + e`` would make run (seed=0, epoch=1) replay run
    (seed=1, epoch=0); hashing the pair keeps every (seed, epoch) stream distinct.
    """
    text = ":".join(str(int(p)) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


def _uniform_int(u: torch.Tensor, n: torch.Tensor | int) -> torch.Tensor:
    """``floor(u * n)`` for ``u`` in [0, 1): a uniform integer in ``0..n-1`` per element."""
    n_t = torch.as_tensor(n, device=u.device)
    return torch.minimum((u * n_t).long(), n_t - 1)


class _ClassTable:
    """Image indices grouped by class: ``order[offsets[c] : offsets[c] + counts[c]]``."""

    def __init__(self, labels: torch.Tensor, who: str, class_names: Sequence[str] | None = None):
        if not isinstance(labels, torch.Tensor) or labels.ndim != 1:
            raise ValueError(f"{who} expects a 1-d tensor of class labels; got {labels!r:.80}")
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise ValueError(f"{who} expects integer class labels; got dtype {labels.dtype}")
        self.labels = labels.long()
        self.device = labels.device
        self.classes, self.counts = torch.unique(self.labels, sorted=True, return_counts=True)
        self.order = torch.argsort(self.labels, stable=True)
        self.offsets = torch.cumsum(self.counts, 0) - self.counts
        self.class_names = list(class_names) if class_names is not None else None

    def name(self, label: int) -> str:
        """``'Cr'`` when the class names are known (label in range), else the label itself."""
        names = self.class_names
        return repr(names[label]) if names is not None and 0 <= label < len(names) else str(label)

    def describe_counts(self) -> str:
        return ", ".join(
            f"{self.name(c)}: {n}"
            for c, n in zip(self.classes.tolist(), self.counts.tolist(), strict=True)
        )


class Pairs(NamedTuple):
    """One epoch of pairs: image indices ``idx1``, ``idx2`` and ``same`` (1.0 = same class)."""

    idx1: torch.Tensor
    idx2: torch.Tensor
    same: torch.Tensor


class PairSampler:
    """Random image pairs as the paper trains: same class with probability ``p_same``.

    A same-class pair picks a class uniformly, then two DISTINCT images of it; a
    different-class pair picks two distinct classes uniformly, then one image of each.
    Drawing the class first keeps pairs balanced over classes even when class sizes differ.
    An epoch is ``pairs_per_epoch`` fresh pairs (the authors used 900, the number of
    training images) and depends only on ``(seed, epoch)``, so a resumed run sees the same
    pairs it would have seen without the interruption.
    """

    def __init__(
        self,
        labels: torch.Tensor,
        pairs_per_epoch: int = 900,
        p_same: float = 0.5,
        seed: int = 0,
        *,
        class_names: Sequence[str] | None = None,
    ):
        self._table = _ClassTable(labels, "PairSampler", class_names)
        if pairs_per_epoch < 1:
            raise ValueError(f"pairs_per_epoch must be >= 1; got {pairs_per_epoch}")
        if not 0.0 <= p_same <= 1.0:
            raise ValueError(f"p_same must be a probability in [0, 1]; got {p_same}")
        t = self._table
        if len(t.classes) < 2:
            raise ValueError(
                f"PairSampler needs images of at least 2 classes to form different-class pairs; "
                f"got class counts {{{t.describe_counts()}}}"
            )
        if int(t.counts.min()) < 2:
            raise ValueError(
                "PairSampler needs at least 2 images per class to form same-class pairs of two "
                f"different images; got class counts {{{t.describe_counts()}}}. Drop the small "
                "classes or add images."
            )
        self.pairs_per_epoch = int(pairs_per_epoch)
        self.p_same = float(p_same)
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.pairs_per_epoch

    @property
    def n_classes(self) -> int:
        """Number of distinct classes in the labels."""
        return len(self._table.classes)

    def sample_epoch(self, epoch: int) -> Pairs:
        """The pairs of ``epoch``: ``(idx1, idx2, same)``, int64/int64/float32 on labels' device."""
        t = self._table
        n = self.pairs_per_epoch
        gen = torch.Generator(device=t.device).manual_seed(_derive_seed(self.seed, epoch))
        u = torch.rand((n, 5), generator=gen, device=t.device, dtype=torch.float64)
        same = u[:, 0] < self.p_same
        c1 = _uniform_int(u[:, 1], self.n_classes)
        other = _uniform_int(u[:, 2], self.n_classes - 1)
        other = other + (other >= c1).long()  # skip c1: uniform over the remaining classes
        c2 = torch.where(same, c1, other)
        m1 = _uniform_int(u[:, 3], t.counts[c1])
        m2_same = _uniform_int(u[:, 4], t.counts[c1] - 1)
        m2_same = m2_same + (m2_same >= m1).long()  # skip m1: never the same image twice
        m2 = torch.where(same, m2_same, _uniform_int(u[:, 4], t.counts[c2]))
        idx1 = t.order[t.offsets[c1] + m1]
        idx2 = t.order[t.offsets[c2] + m2]
        return Pairs(idx1, idx2, same.to(torch.float32))


class Episode(NamedTuple):
    """One N-way K-shot episode: ``classes [N]``, ``support [N, K]``, ``query [N, Q]``.

    Row ``i`` of ``support`` and ``query`` holds image indices of class ``classes[i]``.
    """

    classes: torch.Tensor
    support: torch.Tensor
    query: torch.Tensor


class Episodes(NamedTuple):
    """A batch of E episodes: ``classes [E, N]``, ``support [E, N, K]``, ``query [E, N, Q]``."""

    classes: torch.Tensor
    support: torch.Tensor
    query: torch.Tensor

    @property
    def n_episodes(self) -> int:
        """E, the number of episodes (``len()`` of a NamedTuple counts its fields)."""
        return int(self.classes.shape[0])

    def episode(self, i: int) -> Episode:
        """Episode ``i`` alone."""
        return Episode(self.classes[i], self.support[i], self.query[i])


def _members(t: _ClassTable, cpos: torch.Tensor, need: int, gen: torch.Generator) -> torch.Tensor:
    """``need`` distinct random members ``[e, N, need]`` of each class position in ``cpos``
    ``[e, N]``: the smallest of random keys, slots past each class's size barred."""
    max_count = int(t.counts.max())
    e, n = cpos.shape
    mkeys = torch.rand((e, n, max_count), generator=gen, device=t.device)
    slot = torch.arange(max_count, device=t.device)
    mkeys = mkeys.masked_fill(slot >= t.counts[cpos][..., None], 2.0)
    members = mkeys.topk(need, dim=-1, largest=False).indices  # [e, N, need]
    return t.order[t.offsets[cpos][..., None] + members]


class EpisodeSampler:
    """N-way K-shot episodes with Q queries per class, as few-shot papers evaluate.

    Each episode draws N distinct classes, then K + Q distinct images of each class: the
    first K are the support ("the one shot"), the remaining Q the queries, so the two never
    overlap. ``sample(E)`` is a pure function of ``(seed, epoch)`` and its first ``m``
    episodes equal ``sample(m)``: numbers are drawn in fixed blocks of episodes.

    Iterating (with ``n_episodes`` given) yields single :class:`Episode` objects; each new
    iteration is a new epoch, so a training loop sees fresh, reproducible episodes.

    With ``query_labels`` the queries come from another pool (another operating condition:
    the support from one motor load, the queries from another). Query indices then index
    ``query_labels``; both pools must hold the same classes.
    """

    #: Episodes drawn per block; fixed so that sample(m) is a prefix of sample(n > m).
    block: int = 64

    def __init__(
        self,
        labels: torch.Tensor,
        n_way: int,
        k_shot: int,
        n_query: int,
        seed: int = 0,
        n_episodes: int | None = None,
        *,
        class_names: Sequence[str] | None = None,
        query_labels: torch.Tensor | None = None,
    ):
        self._table = t = _ClassTable(labels, "EpisodeSampler", class_names)
        self._query_table = None
        if query_labels is not None:
            q = _ClassTable(query_labels, "EpisodeSampler (query_labels)", class_names)
            if not torch.equal(q.classes.to(t.device), t.classes):
                raise ValueError(
                    f"the support and query pools must hold the same classes; support "
                    f"{{{t.describe_counts()}}}, queries {{{q.describe_counts()}}}"
                )
            self._query_table = q
        if n_way < 1 or k_shot < 1 or n_query < 1:
            raise ValueError(
                f"n_way, k_shot and n_query must be >= 1; got {n_way}, {k_shot}, {n_query}"
            )
        if len(t.classes) < n_way:
            raise ValueError(
                f"a {n_way}-way episode needs {n_way} classes but the labels hold only "
                f"{len(t.classes)} (class counts {{{t.describe_counts()}}}); lower n_way."
            )
        pools = [(t, k_shot + n_query, "")] if self._query_table is None else [
            (t, k_shot, "support "), (self._query_table, n_query, "query ")]  # fmt: skip
        short = [
            f"{where}{table.name(c)} ({n})"
            for table, need, where in pools
            for c, n in zip(table.classes.tolist(), table.counts.tolist(), strict=True)
            if n < need
        ]
        if short:
            need = k_shot + n_query if self._query_table is None else f"{k_shot} / {n_query}"
            raise ValueError(
                f"each class needs k_shot + n_query = {need} images, but these classes have "
                f"fewer: {', '.join(short)}. Lower k_shot/n_query or drop those classes."
            )
        self.n_way, self.k_shot, self.n_query = int(n_way), int(k_shot), int(n_query)
        self.seed = int(seed)
        self.n_episodes = n_episodes
        self._epoch = 0

    def sample(self, n_episodes: int, *, epoch: int = 0) -> Episodes:
        """``n_episodes`` episodes, image indices on the labels' device; deterministic."""
        if n_episodes < 0:
            raise ValueError(f"n_episodes must be >= 0; got {n_episodes}")
        t = self._table
        n, need, nc = self.n_way, self.k_shot + self.n_query, len(t.classes)
        gen = torch.Generator(device=t.device).manual_seed(_derive_seed(self.seed, epoch, 7))
        cls_blocks, img_blocks = [], []
        for _ in range(-(-n_episodes // self.block)):  # a loop over blocks, not episodes
            e = self.block
            # N distinct classes: the N smallest of nc random keys (a random permutation prefix).
            ckeys = torch.rand((e, nc), generator=gen, device=t.device)
            cpos = ckeys.topk(n, dim=1, largest=False).indices  # [e, N]
            if self._query_table is None:  # K+Q distinct members of each class
                img_blocks.append(_members(t, cpos, need, gen))
            else:  # K from the support pool, Q from the query pool
                sup = _members(t, cpos, self.k_shot, gen)
                qry = _members(self._query_table, cpos, self.n_query, gen)
                img_blocks.append(torch.cat([sup, qry], dim=-1))
            cls_blocks.append(t.classes[cpos])
        if cls_blocks:
            classes = torch.cat(cls_blocks)[:n_episodes]
            images = torch.cat(img_blocks)[:n_episodes]
        else:
            classes = torch.empty((0, n), dtype=torch.long, device=t.device)
            images = torch.empty((0, n, need), dtype=torch.long, device=t.device)
        return Episodes(classes, images[..., : self.k_shot], images[..., self.k_shot :])

    def episodes(self, n_episodes: int | None = None, *, epoch: int = 0) -> Iterator[Episode]:
        """Yield the episodes of ``sample(n_episodes, epoch=epoch)`` one at a time."""
        n = self._resolve(n_episodes)
        batch = self.sample(n, epoch=epoch)
        for i in range(n):
            yield batch.episode(i)

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` yield the episodes of ``epoch``."""
        self._epoch = int(epoch)

    def __iter__(self) -> Iterator[Episode]:
        n = self._resolve(None)
        epoch = self._epoch
        self._epoch += 1
        return self.episodes(n, epoch=epoch)

    def __len__(self) -> int:
        return self._resolve(None)

    def _resolve(self, n_episodes: int | None) -> int:
        n = self.n_episodes if n_episodes is None else n_episodes
        if n is None:
            raise ValueError(
                "how many episodes? pass n_episodes to EpisodeSampler(...) or to episodes(n)"
            )
        return int(n)
