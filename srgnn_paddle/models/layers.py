"""The pieces the models share: tensors of a batch's histories, the state at a history's
last real position, NARM's additive attention (over a whole history, or causal: every
position over its prefix), the packed session graph's propagation and soft-attention
readout, ``segment_sum`` / ``segment_mean`` / ``segment_softmax``, and the paper's uniform
initialisation. (The GRU read of a
history is :class:`~srgnn_paddle.models.sequence.GRUSessionModel`.)

Everything here is plain Paddle (its dense layers are :class:`~srgnn_paddle.kernels.Dense`,
see :mod:`srgnn_paddle.kernels`); each model file composes these pieces in the order of
its paper.
"""
from __future__ import annotations

import math
from typing import Tuple, Union

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from srgnn_paddle import compat
from srgnn_paddle.data.graph import PackedGraph

TensorLike = Union[paddle.Tensor, np.ndarray]


def as_tensor(x: TensorLike) -> paddle.Tensor:
    """Numpy array -> Paddle tensor on the current device; tensors (and the static graph's
    values under ``paddle.jit.to_static``, see :mod:`srgnn_paddle.serving`) pass through."""
    return paddle.to_tensor(x) if isinstance(x, (np.ndarray, list, tuple)) else x


# ---------------------------------------------------------------------------- padded histories
def history_tensors(batch) -> Tuple[paddle.Tensor, paddle.Tensor]:
    """``(items [B, L] int64, mask [B, L] float32)`` of a batch (numpy arrays or tensors; the
    static graph's values under ``paddle.jit.to_static`` pass through, see :mod:`srgnn_paddle.serving`)."""
    items, mask = (paddle.to_tensor(np.asarray(x)) if isinstance(x, (np.ndarray, list, tuple)) else x
                   for x in (batch.history, batch.mask))
    return items.astype("int64"), mask.astype("float32")


def lengths(mask: paddle.Tensor) -> paddle.Tensor:
    """``[B]`` int64 number of real entries of right-padded rows (``mask [B, L]``)."""
    return mask.sum(axis=1).astype("int64")


def last_position(states: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
    """The row of each sequence's last real position: ``[B, L, H]``, ``mask [B, L]`` -> ``[B, H]``."""
    batch, _, width = states.shape
    last = (lengths(mask) - 1).clip(min=0).reshape([batch, 1, 1]).expand([batch, 1, width])
    return paddle.take_along_axis(states, last, axis=1).squeeze(1)


def causal_pairs(mask: paddle.Tensor) -> paddle.Tensor:
    """``[B, L, L]`` float32: entry ``[b, t, j]`` is 1 when position ``j`` is real and
    ``j <= t`` (what position ``t`` may attend to), else 0."""
    length = mask.shape[1]
    lower = paddle.tril(paddle.ones([length, length], dtype="float32"))  # [t, j]: j <= t
    return lower.unsqueeze(0) * mask.unsqueeze(1)


def additive_attention(a_1: nn.Layer, a_2: nn.Layer, v: nn.Layer, query: paddle.Tensor, states: paddle.Tensor,
                       mask: paddle.Tensor) -> paddle.Tensor:
    """NARM's attention of one query over every real state: ``sum_j a_j h_j`` with
    ``a_j = v^T sigmoid(A1 q + A2 h_j)`` (``a_1``, ``a_2``: ``H -> H``, ``v``: ``H -> 1``).
    ``query [B, H]``, ``states [B, L, H]``, ``mask [B, L]`` -> ``[B, H]``."""
    alpha = v(F.sigmoid(a_1(query).unsqueeze(1) + a_2(states)))  # [B, L, 1]
    return paddle.sum(alpha * states * mask.unsqueeze(-1), axis=1)


def causal_additive_attention(a_1: nn.Layer, a_2: nn.Layer, v: nn.Layer, states: paddle.Tensor,
                              mask: paddle.Tensor) -> paddle.Tensor:
    """:func:`additive_attention` with every position ``t`` as the query ``h_t``, attending to
    the states ``h_1..h_t`` only: ``states [B, L, H]``, ``mask [B, L]`` -> ``[B, L, H]``."""
    scores = v(F.sigmoid(a_1(states).unsqueeze(2) + a_2(states).unsqueeze(1))).squeeze(-1)  # [B, L, L]
    return paddle.bmm(scores * causal_pairs(mask), states)  # [b, t, j]: j <= t


# ---------------------------------------------------------------------------- packed session graphs
def segment_sum(values: paddle.Tensor, index: paddle.Tensor, n: int) -> paddle.Tensor:
    """``out[i] = sum of values[j] with index[j] == i``: ``[E, D]``, ``[E]`` -> ``[n, D]``."""
    zeros = paddle.zeros([n, values.shape[1]], dtype=values.dtype)
    return compat.index_add(zeros, index, 0, values)


def segment_softmax(scores: paddle.Tensor, index: paddle.Tensor, n: int) -> paddle.Tensor:
    """The softmax of ``scores`` within each segment (the entries with one ``index`` value),
    e.g. attention over each node's in-edges: ``scores [E]`` or ``[E, H]`` float32, ``index [E]``
    int64 sorted non-decreasing with values ``< n`` -> the shape of ``scores``. Each segment's
    maximum is subtracted first (``paddle.geometric.segment_max``, without a gradient: the
    softmax does not change)."""
    top = paddle.geometric.segment_max(scores.detach(), index)  # [max(index) + 1, ...]
    weights = paddle.exp(scores - paddle.gather(top, index))
    columns = weights if weights.ndim == 2 else weights.unsqueeze(-1)  # [E, H]
    total = segment_sum(columns, index, n).reshape([n, *weights.shape[1:]])  # [n] or [n, H]
    return weights / paddle.gather(total, index)


def segment_mean(values: paddle.Tensor, index: paddle.Tensor, n: int) -> paddle.Tensor:
    """``out[i] = mean of values[j] with index[j] == i`` (0 for an empty segment):
    ``[E, D]``, ``[E]`` -> ``[n, D]``."""
    count = segment_sum(paddle.ones([values.shape[0], 1], dtype=values.dtype), index, n)  # [n, 1]
    return segment_sum(values, index, n) / count.clip(min=1.0)


class PackedAdjacency:
    """The propagation matrix of a :class:`~srgnn_paddle.data.graph.PackedGraph` as Paddle tensors.

    ``propagate(x)`` is ``M @ x`` for ``x [2n, D]`` (rows ``< n``: incoming messages, the
    rest outgoing), as a gather of the edges' source rows, scaled by the edge weights, and
    an ``index_add`` into their target rows: plain Paddle ops with gradients, on any device.
    """

    def __init__(self, graph: PackedGraph) -> None:
        self.rows = as_tensor(graph.edge_rows)  # [E]
        self.cols = as_tensor(graph.edge_cols)  # [E]
        self.weights = as_tensor(graph.edge_weights).reshape([-1, 1])  # [E, 1]

    def propagate(self, x: paddle.Tensor) -> paddle.Tensor:
        """``[2n, D] -> [2n, D]``."""
        if self.rows.shape[0] == 0:  # no edge (one-item sessions only): no messages; Paddle 2.6's
            return x * 0.0  # elementwise ops reject the 0-size tensors of the general path
        return segment_sum(paddle.gather(x, self.cols) * self.weights, self.rows, len(x))


class PackedHistory:
    """Where the history entries of a packed batch sit among its graph's nodes: the node
    vectors ``hidden [n, D]`` gathered back to every entry (:meth:`positions`, ``[P, D]``)
    and to every session's last entry (:meth:`last`, ``[B, D]``)."""

    def __init__(self, graph: PackedGraph) -> None:
        self.session = as_tensor(graph.pos_session)  # [P]: the session of each entry
        self.node = as_tensor(graph.pos_node)  # [P]: the node of each entry
        self.last_node = as_tensor(graph.last_node)  # [B]

    def positions(self, hidden: paddle.Tensor) -> paddle.Tensor:
        """``[n, D] -> [P, D]``."""
        return paddle.gather(hidden, self.node)

    def last(self, hidden: paddle.Tensor) -> paddle.Tensor:
        """``[n, D] -> [B, D]``."""
        return paddle.gather(hidden, self.last_node)

    def soft_attention(self, query: paddle.Tensor, keys: paddle.Tensor, values: paddle.Tensor,
                       score: nn.Layer) -> paddle.Tensor:
        """``sum_j a_j values_j`` per session with ``a_j = score(sigmoid(query_s + keys_j))``
        (SR-GNN's global interest, §4.3): ``query [B, D]`` (one per session), ``keys``,
        ``values [P, D]`` (one per entry), ``score`` a ``D -> 1`` layer. Returns ``[B, D]``."""
        alpha = score(F.sigmoid(paddle.gather(query, self.session) + keys))  # [P, 1]
        # len() here, not in __init__: paddle.jit.to_static converts it in methods (serving's export)
        return segment_sum(alpha * values, self.session, len(self.last_node))


# ---------------------------------------------------------------------------- initialisation
def uniform_init(model: nn.Layer, embedding_dim: int) -> None:
    """The SR-GNN paper's initialisation: every parameter uniform in ``[-1/sqrt(D), 1/sqrt(D)]``."""
    bound = 1.0 / math.sqrt(embedding_dim)
    for param in model.parameters():
        param.set_value(paddle.uniform(param.shape, dtype=param.dtype, min=-bound, max=bound))


def initialise(model: nn.Layer, init: str, embedding_dim: int) -> None:
    """``init: uniform``: :func:`uniform_init`; ``init: notebook`` keeps Paddle's default initialisers."""
    if init == "uniform":
        uniform_init(model, embedding_dim)
