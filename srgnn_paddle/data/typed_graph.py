"""The session graph with typed edges of GCE-GNN (Wang et al., SIGIR 2020, §3.2), packed
like :class:`~srgnn_paddle.data.graph.PackedGraph` and built with numpy, vectorised over
the batch.

The nodes of a session are its distinct items (sorted, sessions one after another). Node
``i`` attends to itself and to every node it shares a transition with; the edge
``i -> j`` has one of four types (the paper's ``r_self``, ``r_in``, ``r_out``,
``r_in-out``), from the session's transitions ``a -> b`` (``a`` clicked just before
``b``, ``a != b``):

* ``SELF`` (0): ``j == i``, every node;
* ``IN`` (1): ``j -> i`` is a transition of the session and ``i -> j`` is not;
* ``OUT`` (2): ``i -> j`` is one and ``j -> i`` is not;
* ``IN_OUT`` (3): both are.

A transition repeated in a session counts once; a repeated click (``a -> a``) adds nothing
to the self-loop every node has. This is the adjacency the official code builds per
session (1 self, 2 in, 3 out, 4 in-out in its numbering), which it builds on the reversed
session, so that its "in" of the reversed order is the "in" of the time order above.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from srgnn_paddle.data.graph import pack_sessions

SELF, IN, OUT, IN_OUT = 0, 1, 2, 3  #: the edge types
EDGE_TYPES = 4


class TypedGraph(NamedTuple):
    """The typed session graphs of a batch without padding: ``n`` nodes (each session's
    distinct items, sorted, sessions one after another), ``E`` typed edges, ``P`` real
    history entries.

    node_items:   ``[n]`` int64, the item of each node.
    node_session: ``[n]`` int64, the session (batch row) of each node; non-decreasing.
    edge_rows, edge_cols: ``[E]`` int64: node ``edge_rows[e]`` attends to node
                  ``edge_cols[e]``; sorted by row, then column (every node has its self edge,
                  so every node is a row).
    edge_types:   ``[E]`` int64, ``SELF``, ``IN``, ``OUT`` or ``IN_OUT``.
    pos_node:     ``[P]`` int64, the node of each history entry, in order.
    pos_session:  ``[P]`` int64, the session of each history entry; non-decreasing.
    pos_reversed: ``[P]`` int64, each entry's position counted from the session's end
                  (0 = the last click): the index of GCE-GNN's reversed position embedding.
    """

    node_items: np.ndarray
    node_session: np.ndarray
    edge_rows: np.ndarray
    edge_cols: np.ndarray
    edge_types: np.ndarray
    pos_node: np.ndarray
    pos_session: np.ndarray
    pos_reversed: np.ndarray


def build_typed_graph(item_seq) -> TypedGraph:
    """Build the typed session graphs (:class:`TypedGraph`) of right-padded histories.

    Args:
        item_seq: ``[B, L]`` integer array of item ids, right-padded with 0; every row needs
            at least one item.
    Returns:
        the graphs; nodes and history entries are those of
        :func:`~srgnn_paddle.data.graph.pack_sessions` (same order).
    Raises:
        ValueError: a row with no item, or an item after a 0 (not right-padded).
    """
    nodes = pack_sessions(item_seq)
    pos_node, pos_session = nodes.pos_node, nodes.pos_session
    ends = np.cumsum(np.bincount(pos_session))  # one past each session's last entry
    n = len(nodes.node_items)

    follows = (pos_session[1:] == pos_session[:-1]) & (pos_node[1:] != pos_node[:-1])
    forward = np.unique(pos_node[:-1][follows] * n + pos_node[1:][follows])  # distinct transitions a -> b
    src, dst = forward // n, forward % n
    backward = dst * n + src  # the same transitions seen from b: row b, column a
    pairs = np.unique(np.concatenate([forward, backward]))  # row * n + column, sorted
    is_out = np.isin(pairs, forward, assume_unique=True)  # row -> column is a transition
    is_in = np.isin(pairs, backward, assume_unique=True)  # column -> row is one
    types = np.where(is_in & is_out, IN_OUT, np.where(is_out, OUT, IN))
    codes = np.concatenate([np.arange(n, dtype=np.int64) * (n + 1), pairs])  # self edges i * n + i
    types = np.concatenate([np.full(n, SELF, dtype=np.int64), types])
    order = np.argsort(codes, kind="stable")
    codes, types = codes[order], types[order]
    return TypedGraph(
        node_items=nodes.node_items,
        node_session=nodes.node_session,
        edge_rows=(codes // n).astype(np.int64),
        edge_cols=(codes % n).astype(np.int64),
        edge_types=types.astype(np.int64),
        pos_node=pos_node,
        pos_session=pos_session,
        pos_reversed=(ends[pos_session] - 1 - np.arange(len(pos_node))).astype(np.int64),
    )
