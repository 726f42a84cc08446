"""GCE-GNN's global item graph (Wang et al., SIGIR 2020, §3.2 and §4.1), built once from
the training sessions with numpy, vectorised over all sessions.

Two items are neighbours when they occur at most ``window`` positions apart in a training
session (the paper's epsilon-neighbour set; ``window = 3`` is the official preprocessing's,
its ``build_graph.py``). Every such occurrence counts once in each direction: for a session
``s`` and a distance ``1 <= k <= window``, every pair ``(s[j], s[j + k])`` adds 1 to the
weight of edge ``s[j] -> s[j + k]`` and 1 to that of ``s[j + k] -> s[j]``, so the weights
are symmetric counts. An item that occurs twice within the window is its own neighbour
(``1 2 1``: edge ``1 -> 1`` of weight 2), as in the official preprocessing. Each item keeps
its ``top_k`` (12) heaviest neighbours.

Ties in the top-k are broken as the official preprocessing breaks them (a stable sort of
each item's neighbours in the order they were first met): by the first occurrence of the
pair in the scan order *sessions in order, then distance k = 1, 2, 3, then position j, the
pair (s[j], s[j+k]) before (s[j+k], s[j])*. So for the same sessions in the same order the
table is the official one, neighbour for neighbour (tested against a slow loop of that
scan, on hand-made sessions and on DIGINETICA's ``all_train_seq.txt``).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

WINDOW = 3  #: the epsilon of the official build_graph.py: distances 1..3
TOP_K = 12  #: neighbours kept per item (the official ``--n_sample_all`` / ``--sample_num``)


class GlobalGraph(NamedTuple):
    """The top-k neighbours of every item, heaviest first.

    neighbors: ``[n_items, K]`` int64, row ``i`` the neighbours of item ``i`` by decreasing
               weight, 0 in the slots an item with fewer than ``K`` neighbours leaves empty
               (row 0, the padding item, is empty).
    weights:   ``[n_items, K]`` float32, the counts of those edges, 0 in empty slots.
    """

    neighbors: np.ndarray
    weights: np.ndarray

    def degrees(self) -> np.ndarray:
        """``[n_items]`` int64: the filled slots of each row (the first ``degree`` are real)."""
        return (self.weights > 0).sum(axis=1).astype(np.int64)


def build_global_graph(sessions: Any, n_items: int, window: int = WINDOW, top_k: int = TOP_K) -> GlobalGraph:
    """The global graph of ``sessions`` (see the module docstring).

    Args:
        sessions: a :class:`~srgnn_paddle.data.datasets.SessionTable` (``items [N]``,
            ``offsets [S + 1]``), what a training dataset's ``sessions()`` returns.
        n_items: rows of the item table (item ids ``1..n_items - 1``).
        window: the largest distance between neighbours (epsilon).
        top_k: neighbours kept per item.
    Returns:
        :class:`GlobalGraph` with ``[n_items, top_k]`` arrays.
    Raises:
        ValueError: an item id outside ``1..n_items - 1``, or ``window`` / ``top_k`` < 1.
    """
    if window < 1 or top_k < 1:
        raise ValueError(f"window and top_k must be >= 1, got {window} and {top_k}")
    items = np.asarray(sessions.items, dtype=np.int64)
    offsets = np.asarray(sessions.offsets, dtype=np.int64)
    if items.size and (items.min() < 1 or items.max() >= n_items):
        bad = items[(items < 1) | (items >= n_items)][0]
        raise ValueError(f"session item id {int(bad)} is outside 1..{n_items - 1}")
    neighbors = np.zeros((n_items, top_k), dtype=np.int64)
    weights = np.zeros((n_items, top_k), dtype=np.float32)
    owner = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))  # [N] session of each entry
    position = np.arange(len(items), dtype=np.int64) - offsets[owner]  # [N] j within its session
    longest = int(np.diff(offsets).max()) if len(offsets) > 1 else 0
    sources, targets, orders = [], [], []
    for k in range(1, window + 1):  # a few whole-array passes, no loop over sessions
        j = np.flatnonzero(owner[:-k] == owner[k:]) if len(items) > k else np.zeros(0, np.int64)
        first, second = items[j], items[j + k]
        # the rank of each pair in the official scan: (session, k, j, direction)
        order = ((owner[j] * window + (k - 1)) * max(longest, 1) + position[j]) * 2
        sources += [first, second]
        targets += [second, first]
        orders += [order, order + 1]
    source, target, order = (np.concatenate(parts) if parts else np.zeros(0, np.int64)
                             for parts in (sources, targets, orders))
    if len(source) == 0:
        return GlobalGraph(neighbors, weights)
    code = source * n_items + target  # one id per directed edge
    by_edge = np.lexsort((order, code))  # edges together, each in scan order
    edge, first_seen, count = np.unique(code[by_edge], return_index=True, return_counts=True)
    first_seen = order[by_edge][first_seen]  # the scan rank of each edge's first occurrence
    src, dst = edge // n_items, edge % n_items
    ranked = np.lexsort((first_seen, -count, src))  # per item: heaviest first, ties by first occurrence
    src, dst, count = src[ranked], dst[ranked], count[ranked]
    starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
    slot = np.arange(len(src)) - np.repeat(starts, np.diff(np.r_[starts, len(src)]))
    keep = slot < top_k
    neighbors[src[keep], slot[keep]] = dst[keep]
    weights[src[keep], slot[keep]] = count[keep]
    return GlobalGraph(neighbors, weights)
