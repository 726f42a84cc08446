"""LESSR's two graphs of a batch's sessions (Chen & Wong, KDD 2020, §4.2), built with numpy,
vectorised over the batch (no Python loop over sessions, nodes or positions), in the loader.

Both share the nodes of the packed session graphs (:func:`~srgnn_paddle.data.graph.pack_sessions`:
each session's distinct items, sorted, sessions one after another):

* the **edge-order-preserving (EOP) multigraph** (S2MG): one edge ``x_t -> x_{t+1}`` per
  transition of the session, repeated transitions kept as parallel edges, and the in-edges of
  every node ordered by the time of their transition. LESSR's EOPA layer runs a GRU over each
  node's in-neighbours in that order, so the multigraph is stored as padded in-neighbour
  lists: one row per node with at least one in-edge, its sources in time order;
* the **shortcut graph** (S2SG): an edge ``x_i -> x_j`` for every pair of positions
  ``i <= j`` of the session, duplicates merged, so every node has a self-loop and an edge to
  every item clicked after it (the official code's construction, which includes the
  self-loops the paper adds). Stored as an edge list sorted by target node (what the SGAT
  layer's segment softmax over each node's in-edges needs).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from srgnn_paddle.data.graph import pack_sessions


class LessrGraphs(NamedTuple):
    """The LESSR graphs of one batch: ``n`` nodes, ``B`` sessions.

    node_items:    ``[n]`` int64, the item of each node.
    node_session:  ``[n]`` int64, the session (batch row) of each node; non-decreasing.
    last_node:     ``[B]`` int64, the node of each session's last item.
    in_node:       ``[m]`` int64, the nodes with at least one in-edge in the EOP multigraph,
                   increasing (``m = 0`` when no session of the batch has a transition).
    in_neighbours: ``[m, K]`` int64, row ``r``: the sources of ``in_node[r]``'s in-edges in the
                   order of their transitions, padded with 0 after ``in_degree[r]`` entries
                   (``K``: the largest in-degree of the batch).
    in_degree:     ``[m]`` int64, the in-degree (transitions into the node, repeats counted).
    shortcut_src, shortcut_dst: ``[S]`` int64, the shortcut graph's edges, distinct, sorted by
                   ``(dst, src)``; every node has its self-loop, so ``S >= n``.
    """

    node_items: np.ndarray
    node_session: np.ndarray
    last_node: np.ndarray
    in_node: np.ndarray
    in_neighbours: np.ndarray
    in_degree: np.ndarray
    shortcut_src: np.ndarray
    shortcut_dst: np.ndarray


def build_lessr_graphs(item_seq) -> LessrGraphs:
    """LESSR's EOP multigraph and shortcut graph (:class:`LessrGraphs`) of right-padded histories.

    Args:
        item_seq: ``[B, L]`` integer array of item ids (numpy, Paddle tensor or nested list),
            right-padded with 0; every row needs at least one item.

    Raises:
        ValueError: a row with no item, or an item after a 0 (not right-padded).
    """
    nodes = pack_sessions(item_seq)
    pos_node, pos_session = nodes.pos_node, nodes.pos_session
    n, positions = len(nodes.node_items), len(pos_node)

    # EOP multigraph: one edge per transition, in time order (entries are in session, then time order)
    follows = pos_session[1:] == pos_session[:-1]
    src, dst = pos_node[:-1][follows], pos_node[1:][follows]  # [E]
    order = np.argsort(dst, kind="stable")  # grouped by target node, each group in time order
    degree = np.bincount(dst, minlength=n)
    in_node = np.flatnonzero(degree)  # [m]
    in_degree = degree[in_node]
    first = np.cumsum(in_degree) - in_degree  # where each row's edges start in `order`
    rank = np.arange(len(dst)) - np.repeat(first, in_degree)  # the edge's place among its target's
    row = np.repeat(np.arange(len(in_node)), in_degree)
    in_neighbours = np.zeros((len(in_node), int(in_degree.max()) if len(in_node) else 0), dtype=np.int64)
    in_neighbours[row, rank] = src[order]

    # shortcut graph: every pair of positions i <= j of a session, as node pairs, merged
    session_end = np.cumsum(np.bincount(pos_session))[pos_session]  # [P]: one past the session's last entry
    count = session_end - np.arange(positions)  # the positions j >= i of each i
    from_pos = np.repeat(np.arange(positions), count)
    to_pos = from_pos + np.arange(len(from_pos)) - np.repeat(np.cumsum(count) - count, count)
    keys = np.unique(pos_node[to_pos] * n + pos_node[from_pos])  # sorted by (dst, src)
    return LessrGraphs(
        node_items=nodes.node_items,
        node_session=nodes.node_session,
        last_node=nodes.last_node,
        in_node=in_node.astype(np.int64),
        in_neighbours=in_neighbours,
        in_degree=in_degree.astype(np.int64),
        shortcut_src=(keys % n).astype(np.int64),
        shortcut_dst=(keys // n).astype(np.int64),
    )


def with_in_row(graphs: LessrGraphs) -> LessrGraphs:
    """``graphs`` with at least one in-neighbour row: when no node has an in-edge (every
    session of the batch is one item), a row on node 0 of in-degree 0 (``in_neighbours [1, 1]``
    of 0), which the EOPA layer's GRU reads as no input (its state stays ``h_0 = 0``, so the row
    adds nothing). The model's tensors and the exported encoder then never see a 0-size tensor
    (Paddle 2.6's elementwise ops and Paddle Inference reject them) and need no branch on ``m``."""
    if len(graphs.in_node):
        return graphs
    return graphs._replace(in_node=np.zeros(1, np.int64), in_neighbours=np.zeros((1, 1), np.int64),
                           in_degree=np.zeros(1, np.int64))
