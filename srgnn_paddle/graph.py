"""Session graphs for a batch of padded histories, built with numpy, outside the model.

This is the notebook's ``_get_slice`` (spec ``notebook.md`` §3) vectorised over the batch:
no Python loop over sessions or positions. It is cheap enough to run in the data loader,
so the model step is pure Paddle.
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
