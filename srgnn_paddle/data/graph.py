"""Session graphs for a batch of padded histories, built with numpy, outside the model.

Two layouts of the same graphs, both vectorised over the batch (no Python loop over
sessions or positions) and cheap enough to build in the data loader:

* :func:`build_session_graph`: the notebook's ``_get_slice`` (docs/notebook.md §3),
  ``[B, L]`` node slots and a dense ``[B, L, 2L]`` adjacency per batch;
* :func:`build_packed_graph`: only the real nodes and history entries of the batch, one
  session after another, and the adjacency as a list of weighted edges. The model computes
  the same session vectors from either (tested); the packed one skips the padding, about
  6x less work on DIGINETICA batches, whose histories are padded to the longest of the
  batch (22 on average) while they hold 4 items on average.

The packed layout's node numbering (:func:`pack_sessions`) is shared with the graphs other
models read (LESSR's, :mod:`srgnn_paddle.data.lessr_graphs`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class SessionGraph(NamedTuple):
    """The graph inputs of one batch.

    alias_inputs: ``[B, L]`` int64, position of each history entry in ``items``.
    A:            ``[B, L, 2L]`` float32, ``A[:, :, :L]`` incoming and ``A[:, :, L:]``
                  outgoing normalised adjacency between the nodes in ``items``.
    items:        ``[B, L]`` int64, sorted unique item ids of each session (0 included when
                  the history is padded), right-padded with 0.
    mask:         ``[B, L]`` float32, 1.0 on real history entries, 0.0 on padding.
    """

    alias_inputs: np.ndarray
    A: np.ndarray
    items: np.ndarray
    mask: np.ndarray


def build_session_graph(item_seq) -> SessionGraph:
    """Build the SR-GNN session graphs of a batch of right-padded histories.

    Args:
        item_seq: ``[B, L]`` integer array (numpy, Paddle tensor or nested list) of item ids,
            right-padded with 0.

    Returns:
        ``SessionGraph(alias_inputs [B, L] int64, A [B, L, 2L] float32,
        items [B, L] int64, mask [B, L] float32)``, element for element what the notebook's
        per-session loop produces: nodes are the sorted unique values of each row (0 among
        them when padded); an edge ``alias[i] -> alias[i+1]`` for every consecutive pair
        before the first padding entry (repeated transitions count once); the incoming half
        is divided by in-degree, the outgoing half by out-degree (a zero degree counts as 1).
    """
    seq = _as_int64_2d(item_seq)
    batch, length = seq.shape

    # Sorted unique values per row, packed to the left: rank of each sorted entry among the
    # distinct values of its row.
    order = np.argsort(seq, axis=1, kind="stable")
    sorted_seq = np.take_along_axis(seq, order, axis=1)
    is_new = np.ones_like(sorted_seq, dtype=bool)
    is_new[:, 1:] = sorted_seq[:, 1:] != sorted_seq[:, :-1]
    rank_sorted = np.cumsum(is_new, axis=1) - 1  # [B, L] node index of each sorted entry

    items = np.zeros((batch, length), dtype=np.int64)
    rr, cc = np.nonzero(is_new)
    items[rr, rank_sorted[rr, cc]] = sorted_seq[rr, cc]

    alias = np.empty((batch, length), dtype=np.int64)
    np.put_along_axis(alias, order, rank_sorted, axis=1)

    # Edges i -> i+1 for every position before the first 0 that follows (the loop "stops at
    # the first s[i+1] == 0").
    u_a = np.zeros((batch, length, length), dtype=np.float32)
    if length > 1:
        valid = np.cumprod(seq[:, 1:] != 0, axis=1).astype(bool)  # [B, L-1]
        b_idx, pos = np.nonzero(valid)
        u_a[b_idx, alias[b_idx, pos], alias[b_idx, pos + 1]] = 1.0

    in_deg = u_a.sum(axis=1)  # [B, L] column sums
    out_deg = u_a.sum(axis=2)  # [B, L] row sums
    in_deg[in_deg == 0] = 1.0
    out_deg[out_deg == 0] = 1.0
    a_in = np.swapaxes(u_a, 1, 2) / in_deg[:, :, None]  # [i, j] = edge j->i / in-degree(i)
    a_out = u_a / out_deg[:, :, None]  # [i, j] = edge i->j / out-degree(i)
    adjacency = np.concatenate([a_in, a_out], axis=2).astype(np.float32, copy=False)

    mask = (seq > 0).astype(np.float32)
    return SessionGraph(alias, adjacency, items, mask)


class PackedGraph(NamedTuple):
    """The session graphs of a batch without padding: its ``n`` nodes (each session's
    distinct items, sorted, sessions one after another) and ``P`` real history entries.

    node_items:  ``[n]`` int64, the item of each node.
    edge_rows, edge_cols, edge_weights: ``[E]`` int64, int64, float32: the nonzero entries
                 of the ``[2n, 2n]`` propagation matrix ``M`` with
                 ``M @ [h_in; h_out] = [incoming messages; outgoing messages]``: for each
                 distinct transition ``s -> t`` of a session, ``M[t, s] = 1 / in-degree(t)``
                 and ``M[n + s, n + t] = 1 / out-degree(s)`` (the notebook's ``A[:, :L]`` and
                 ``A[:, L:]`` of the session, restricted to its real nodes).
    pos_node:    ``[P]`` int64, the node of each history entry, in order.
    pos_session: ``[P]`` int64, the session (batch row) of each history entry; non-decreasing.
    last_node:   ``[B]`` int64, the node of each session's last entry.
    """

    node_items: np.ndarray
    edge_rows: np.ndarray
    edge_cols: np.ndarray
    edge_weights: np.ndarray
    pos_node: np.ndarray
    pos_session: np.ndarray
    last_node: np.ndarray


class PackedNodes(NamedTuple):
    """The nodes of a batch's session graphs without padding: each session's distinct items,
    sorted, sessions one after another (``n`` nodes), and its ``P`` real history entries.

    node_items:   ``[n]`` int64, the item of each node.
    node_session: ``[n]`` int64, the session (batch row) of each node; non-decreasing.
    pos_node:     ``[P]`` int64, the node of each history entry, in order.
    pos_session:  ``[P]`` int64, the session of each history entry; non-decreasing.
    last_node:    ``[B]`` int64, the node of each session's last entry.
    """

    node_items: np.ndarray
    node_session: np.ndarray
    pos_node: np.ndarray
    pos_session: np.ndarray
    last_node: np.ndarray


def pack_sessions(item_seq) -> PackedNodes:
    """The nodes and real entries (:class:`PackedNodes`) of right-padded histories, the node
    numbering every packed graph of a batch shares (:func:`build_packed_graph`, LESSR's graphs).

    Args:
        item_seq: ``[B, L]`` integer array of item ids, right-padded with 0; every row needs
            at least one item.

    Raises:
        ValueError: a row with no item, or an item after a 0 (not right-padded).
    """
    seq = _as_int64_2d(item_seq)
    real = seq > 0
    if seq.shape[1] > 1 and (real[:, 1:] & ~real[:, :-1]).any():
        row = int(np.flatnonzero((real[:, 1:] & ~real[:, :-1]).any(axis=1))[0])
        raise ValueError(f"item_seq row {row} is not right-padded (an item follows a 0)")
    lengths = real.sum(axis=1)
    if seq.shape[0] == 0 or (lengths == 0).any():
        raise ValueError("every history in item_seq needs at least one item")

    pos_session, pos = np.nonzero(real)  # row-major: sessions in order, entries in order
    values = seq[pos_session, pos]
    span = int(values.max()) + 1
    keys, pos_node = np.unique(pos_session * span + values, return_inverse=True)  # sorted by (session, item)
    pos_node = pos_node.reshape(-1)
    return PackedNodes(node_items=(keys % span).astype(np.int64), node_session=(keys // span).astype(np.int64),
                       pos_node=pos_node.astype(np.int64), pos_session=pos_session.astype(np.int64),
                       last_node=pos_node[np.cumsum(lengths) - 1].astype(np.int64))


def build_packed_graph(item_seq) -> PackedGraph:
    """Build the packed session graphs (:class:`PackedGraph`) of right-padded histories.

    Args:
        item_seq: ``[B, L]`` integer array of item ids, right-padded with 0; every row needs
            at least one item.

    Returns:
        the graphs of :func:`build_session_graph` without the padding node and slots: the
        same nodes in the same order within a session, the same edges and normalisation.

    Raises:
        ValueError: a row with no item, or an item after a 0 (not right-padded).
    """
    nodes = pack_sessions(item_seq)
    node_items, pos_node, pos_session, last_node = nodes.node_items, nodes.pos_node, nodes.pos_session, nodes.last_node
    n = len(node_items)

    follows = pos_session[1:] == pos_session[:-1]  # consecutive entries of one session
    edges = np.unique(pos_node[:-1][follows] * n + pos_node[1:][follows])  # distinct transitions
    src, dst = edges // n, edges % n
    in_deg = np.bincount(dst, minlength=n)
    out_deg = np.bincount(src, minlength=n)
    return PackedGraph(
        node_items=node_items,
        edge_rows=np.concatenate([dst, n + src]).astype(np.int64),
        edge_cols=np.concatenate([src, n + dst]).astype(np.int64),
        edge_weights=np.concatenate([1.0 / in_deg[dst], 1.0 / out_deg[src]]).astype(np.float32),
        pos_node=pos_node,
        pos_session=pos_session,
        last_node=last_node,
    )


def _as_int64_2d(item_seq) -> np.ndarray:
    """Convert a numpy array, Paddle tensor or nested list to a 2-D int64 numpy array."""
    if hasattr(item_seq, "numpy") and not isinstance(item_seq, np.ndarray):
        item_seq = item_seq.numpy()
    seq = np.asarray(item_seq)
    if seq.ndim != 2:
        raise ValueError(f"item_seq must be 2-D [B, L], got shape {seq.shape}")
    if seq.size and not np.issubdtype(seq.dtype, np.integer):
        raise ValueError(f"item_seq must hold integer item ids, got dtype {seq.dtype}")
    return seq.astype(np.int64, copy=False)
