"""Loaders: whole batches built with numpy together with their session graphs, so the model
step is pure Paddle (one tensor per array per batch, not per sample); :func:`collate_batch`
for a plain ``paddle.io.DataLoader``.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np

from srgnn_paddle.data.graph import PackedGraph, SessionGraph, build_packed_graph, build_session_graph
from srgnn_paddle.data.typed_graph import build_typed_graph
from srgnn_paddle.data.lessr_graphs import build_lessr_graphs

#: The ``graph`` option of a loader -> the function that builds a batch's graph from its
#: padded histories (``[B, L]`` int64 -> the object a :class:`Batch` carries as ``graph``),
#: vectorised over the batch. A model needing another graph adds its builder here and its
#: layout to :data:`LAYOUT_GRAPHS`.
GRAPH_BUILDERS: Dict[str, Callable[[np.ndarray], Any]] = {
    "packed": build_packed_graph,
    "dense": build_session_graph,
    "typed": build_typed_graph,  # GCE-GNN's session graph with typed edges
    "lessr": build_lessr_graphs,  # LESSR's EOP multigraph and shortcut graph
}
GRAPH_LAYOUTS = tuple(GRAPH_BUILDERS)

#: A model's batch layout (``Recommender.batch_layout``) -> the graph its batches carry: the
#: one mapping from what a model asks for to what the loader builds.
LAYOUT_GRAPHS = {"session_graph": "packed", "sequence": None, "pairs": None,
                 "typed_session_graph": "typed",  # GCE-GNN (srgnn_paddle/models/gcegnn.py)
                 "lessr_graphs": "lessr"}  # LESSR (srgnn_paddle/models/lessr.py)


def graph_for_layout(layout: str) -> Optional[str]:
    """The ``graph`` option of :func:`make_loader` for a model's ``batch_layout``."""
    if layout not in LAYOUT_GRAPHS:
        raise ValueError(f"unknown batch layout {layout!r}; one of {', '.join(LAYOUT_GRAPHS)}")
    return LAYOUT_GRAPHS[layout]


@dataclass
class Batch:
    """One batch of :func:`make_loader`, numpy arrays throughout.

    history: ``[B, L]`` int64 histories, right-padded with 0 (``L``: the dataset's
             ``max_length``, or the longest prefix of the batch for sessions).
    mask:    ``[B, L]`` float32, 1.0 on real entries.
    target:  ``[B, 1]`` (notebook train) or ``[B]`` (sessions) int64 next items, or, in the
             notebook's test phase, ``B`` ground-truth lists.
    graph:   the batch's session graphs: a :class:`~srgnn_paddle.data.graph.PackedGraph`
             (``graph='packed'``), the notebook's :class:`~srgnn_paddle.data.graph.SessionGraph`
             (``graph='dense'``), what another :data:`GRAPH_BUILDERS` entry builds, or ``None``.
    position_targets: ``targets: all`` training batches only: ``[B, L]`` int64, the item
             each position of ``history`` is trained to predict (its next item), 0 where a
             position is not a target (padding, held-out pairs); ``None`` otherwise.
    seed:    ``(run seed, epoch, global batch index)`` of a loader's batch: what a model's own
             random draws for this batch are seeded from (GCE-GNN's neighbour sampling), so
             they too depend only on the batch; ``None`` for batches made by hand.
    """

    history: np.ndarray
    mask: np.ndarray
    target: Any
    graph: Optional[Union[PackedGraph, SessionGraph]] = None
    position_targets: Optional[np.ndarray] = None
    seed: Optional[Tuple[int, int, int]] = None

    def __len__(self) -> int:
        return len(self.history)


class BatchView:
    """Item ``b`` is batch ``b`` of the current epoch, a :class:`Batch` with its graph.

    Random draws (shuffling, target positions) depend only on ``(seed, epoch, batch
    index)``, so results do not change with the number of loader threads or ranks.
    """

    def __init__(self, dataset, batch_size: int, shuffle: bool = False, seed: int = 0,
                 graph: Optional[str] = "packed", drop_last: bool = False, rank: int = 0,
                 world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..world_size-1, got rank {rank}, world_size {world_size}")
        if graph is not None and graph not in GRAPH_LAYOUTS:
            raise ValueError(f"graph must be one of {GRAPH_LAYOUTS} or None, got {graph!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.graph = graph
        self.drop_last = drop_last
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose shuffle and draws the next iteration produces (a dataset
        whose samples change with the epoch, e.g. resampled negatives, is told too)."""
        self.epoch = int(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)

    def n_global_batches(self) -> int:
        """Batches of one epoch over the whole dataset (all ranks together)."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def global_batch_index(self, b: int) -> int:
        """Rank ``r`` of ``w`` takes global batches ``r, r + w, r + 2w, ...`` of the epoch's order."""
        return b * self.world_size + self.rank

    def __len__(self) -> int:
        """This rank's batches: with ``world_size > 1`` every rank gets the same number
        (``n_global_batches // world_size``), so the last ``n_global_batches % world_size``
        batches of an epoch are left out (the ranks' gradient all-reduces must pair up)."""
        return self.n_global_batches() // self.world_size

    def order(self) -> np.ndarray:
        """The epoch's sample order (a seeded permutation when shuffling)."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(n)

    def __getitem__(self, b: int) -> Batch:
        return self.batch(b)

    def batch(self, b: int, order: Optional[np.ndarray] = None) -> Batch:
        """Batch ``b`` of this rank; ``order`` is the epoch's :meth:`order` when the caller
        already has it (the loader computes it once per epoch). A dataset's ``make_batch``
        returns ``(history, mask, target)``, made into a :class:`Batch` with its graph here,
        or a whole batch object (:class:`~srgnn_paddle.data.pairs.PairBatch`), returned as is."""
        if not 0 <= b < len(self):
            raise IndexError(b)
        b = self.global_batch_index(b)
        order = self.order() if order is None else order
        idx = order[b * self.batch_size: (b + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, b, 1])
        made = self.dataset.make_batch(idx, rng)
        if not isinstance(made, tuple):  # a whole batch already (PairBatch of the pairs layout)
            return made
        hist, mask, target, *position_targets = made
        graph = None if self.graph is None else GRAPH_BUILDERS[self.graph](hist)
        return Batch(hist, mask, target, graph, position_targets[0] if position_targets else None,
                     (self.seed, self.epoch, b))


class BatchLoader:
    """Iterates the batches of a :class:`BatchView` (``len`` = batches per epoch); with
    ``num_workers > 0`` up to ``2 * num_workers`` batches are built ahead on that many
    background threads (numpy releases the GIL in most of the work).

    What the trainer asks of a loader: :meth:`set_epoch` before each epoch, iteration, and
    :meth:`global_batch_index` (the seed of a step's draws, the same on every rank count)."""

    def __init__(self, view: BatchView, num_workers: int = 0) -> None:
        self.batch_view = view
        self.num_workers = int(num_workers)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose shuffle and draws the next iteration produces."""
        self.batch_view.set_epoch(epoch)

    def global_batch_index(self, step: int) -> int:
        """The index, among all ranks' batches of the epoch, of this loader's batch ``step``."""
        return self.batch_view.global_batch_index(step)

    def __len__(self) -> int:
        return len(self.batch_view)

    def __iter__(self) -> Iterator[Batch]:
        view = self.batch_view
        order = view.order()  # once per epoch, not once per batch
        if self.num_workers <= 0:
            for b in range(len(view)):
                yield view.batch(b, order)
            return
        with ThreadPoolExecutor(max_workers=self.num_workers, thread_name_prefix="srgnn-loader") as pool:
            ahead = 2 * self.num_workers
            pending = [pool.submit(view.batch, b, order) for b in range(min(ahead, len(view)))]
            for b in range(len(view)):
                batch = pending[b].result()
                pending[b] = None
                if b + ahead < len(view):
                    pending.append(pool.submit(view.batch, b + ahead, order))
                yield batch


def make_loader(dataset, batch_size: int, shuffle: bool = False, seed: int = 0, num_workers: int = 0,
                graph: Optional[str] = "packed", drop_last: bool = False, rank: int = 0,
                world_size: int = 1, layout: Optional[str] = None) -> BatchLoader:
    """Whole batches built with numpy, with their session graphs (see :class:`Batch`).

    Args:
        dataset: a dataset with ``make_batch`` (:class:`SequenceDataset`,
            :class:`SessionDataset`, :class:`SubsetDataset`, and for ``targets: all``
            :class:`NextItemsDataset` / :class:`SessionPositionsDataset`, whose batches also
            carry ``position_targets``).
        graph: ``'packed'`` (:func:`~srgnn_paddle.data.graph.build_packed_graph`, the fast
            layout), ``'dense'`` (the notebook's, :func:`~srgnn_paddle.data.graph.build_session_graph`)
            or ``None``.
        rank, world_size: with ``world_size > 1`` only rank ``rank``'s share of the batches
            (data-parallel training).
        layout: a model's ``batch_layout`` (``make_loader(..., layout=model.batch_layout)``):
            sets ``graph`` from it (:data:`LAYOUT_GRAPHS`), overriding ``graph``.

    Call ``loader.set_epoch(e)`` before iterating epoch ``e`` to get a new shuffle and new
    target draws.
    """
    if layout is not None:
        graph = graph_for_layout(layout)
    view = BatchView(dataset, batch_size, shuffle=shuffle, seed=seed, graph=graph, drop_last=drop_last,
                     rank=rank, world_size=world_size)
    return BatchLoader(view, num_workers)


def collate_batch(samples: Sequence[tuple]):
    """Collate per-sample tuples ``(history, mask, target)`` into one batch of numpy arrays
    (ground-truth lists stay a list of lists), for ``DataLoader(dataset, collate_fn=...)``."""
    hist = np.stack([s[0] for s in samples])
    mask = np.stack([s[1] for s in samples])
    targets = [s[2] for s in samples]
    if isinstance(targets[0], list):
        return hist, mask, targets
    return hist, mask, np.stack(targets)

