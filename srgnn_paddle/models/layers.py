"""The pieces the models share: tensors of a batch's histories, the state at a history's
last real position, NARM's additive attention (over a whole history, or causal: every
position over its prefix), learned position embeddings, the self-attention block of
SASRec and GC-SAN, the packed session graph's propagation, soft-attention readout and
padded layout, ``segment_sum`` / ``segment_mean`` / ``segment_softmax``, and the paper's
uniform initialisation. (The GRU read of a history is :class:`~srgnn_paddle.models.sequence.GRUSessionModel`.)

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
from srgnn_paddle.errors import SrgnnError

TensorLike = Union[paddle.Tensor, np.ndarray]


def as_tensor(x: TensorLike) -> paddle.Tensor:
    """Numpy array -> Paddle tensor on the current device; tensors (and the static graph's
    values under ``paddle.jit.to_static``, see :mod:`srgnn_paddle.serving`) pass through."""
    return paddle.to_tensor(x) if isinstance(x, (np.ndarray, list, tuple)) else x


def n_rows(x: paddle.Tensor):
    """``len(x)``: an int in eager mode; while ``paddle.jit.to_static`` traces (the export) a
    shape tensor, so the traced model keeps the size dynamic (``len`` of a static value fails
    where dy2static does not rewrite it, e.g. in a constructor)."""
    return x.shape[0] if paddle.in_dynamic_mode() else paddle.shape(x)[0]


def n_segments(index: TensorLike):
    """The number of segments a non-decreasing index ``[E]`` (>= 1 entry) numbers, ``index[-1] + 1``:
    an int for numpy arrays and eager tensors, a size tensor while ``paddle.jit.to_static`` traces."""
    if isinstance(index, np.ndarray) or paddle.in_dynamic_mode():
        return int(index[-1]) + 1
    return index[-1] + 1


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


def history_positions(mask: paddle.Tensor) -> paddle.Tensor:
    """``[B, L]`` int64: the index of every entry of right-padded rows from its row's first
    item (0, 1, 2, ...; padding continues the count, it is masked wherever it is read)."""
    return (paddle.cumsum(paddle.ones_like(mask), axis=1) - 1).astype("int64")


class PositionEmbedding(nn.Embedding):
    """Learned position vectors ``p_0 .. p_{N-1}`` (``N = n_positions``), position ``j``
    counted from a session's first item; positions ``>= N`` share ``p_{N-1}``, so a history of
    any length is read and position ``t``'s vector never depends on the items after ``t``
    (what a causal one-pass :meth:`~srgnn_paddle.models.base.Recommender.encode_positions`
    needs). ``positions`` (int64, any shape) -> ``[..., D]``."""

    def __init__(self, n_positions: int, embedding_dim: int) -> None:
        super().__init__(n_positions, embedding_dim)
        self.n_positions = int(n_positions)

    def forward(self, positions: paddle.Tensor) -> paddle.Tensor:
        return F.embedding(positions.clip(min=0, max=self.n_positions - 1), self.weight)


def attention_bias(mask: paddle.Tensor, causal: bool) -> paddle.Tensor:
    """The additive mask of self-attention over right-padded rows: ``[B, 1, L, L]`` float32,
    0 where query ``t`` may attend to key ``j`` (``j`` real, and ``j <= t`` when ``causal``),
    ``-1e9`` elsewhere. Built from ``mask [B, L]`` with the sizes it has at run time (the
    export traces it with a dynamic ``L``)."""
    allowed = mask.unsqueeze(1)  # [B, 1, L]: key j is real
    if causal:
        position = paddle.cumsum(paddle.ones_like(mask), axis=1)  # [B, L]
        allowed = allowed * (position.unsqueeze(1) <= position.unsqueeze(2)).astype(mask.dtype)  # [B, L, L]
    return ((allowed - 1.0) * 1e9).unsqueeze(1)


class SelfAttentionBlock(nn.Layer):
    """One self-attention block of SASRec (Kang & McAuley 2018, §III-B, §III-C, as its
    official code computes it), which GC-SAN (Xu et al. 2019, §3.3) stacks on the session
    graph's node vectors. For a row ``X [L, D]`` with ``h`` heads of size ``d = D / h``:

        Q = LN_1(X)
        head_i = Dropout(softmax(Q W^Q_i (X W^K_i)^T / sqrt(d) + M)) X W^V_i
        A = Q + [head_1, ..., head_h] W^O
        F = LN_2(A)
        Y = (F + Dropout(W_2 Dropout(ReLU(W_1 F + b_1)) + b_2)) * m

    ``M`` is :func:`attention_bias` (padding keys, and with ``causal`` the later positions,
    masked out); ``m`` zeroes the padding rows. The projections ``query`` (``W^Q``), ``key``,
    ``value``, ``output`` (``W^O``) and the feed-forward layers ``feed_forward_1``,
    ``feed_forward_2`` (``D -> D -> D``) are :class:`~srgnn_paddle.kernels.linear.Linear`
    layers (host GEMMs with ``kernels: host``); the per-head products are ``paddle.matmul``.

    Where this differs from the official code: the heads are joined by an output projection
    ``W^O`` (the official SASRec has none: with one head it is one more ``D x D`` matrix).

    Args:
        dim: ``D``.
        heads: ``h``, a divisor of ``D``.
        dropout: the rate of the three dropouts.
        causal: position ``t`` attends to positions ``<= t`` only (SASRec); else to the whole
            row (GC-SAN).
    """

    def __init__(self, dim: int, heads: int, dropout: float, causal: bool) -> None:
        # imported here: the kernels package imports the evaluation, which imports this module
        from srgnn_paddle.kernels.linear import Linear

        super().__init__()
        if heads < 1 or dim % heads:
            raise SrgnnError(f"num_heads {heads} must divide embedding_dim {dim} (each head has embedding_dim / "
                             f"num_heads dimensions); choose another --num_heads or --embedding_dim")
        self.heads, self.head_dim, self.causal = int(heads), dim // heads, bool(causal)
        self.attention_norm = nn.LayerNorm(dim)
        self.query = Linear(dim, dim)
        self.key = Linear(dim, dim)
        self.value = Linear(dim, dim)
        self.output = Linear(dim, dim)
        self.attention_dropout = nn.Dropout(dropout)
        self.feed_forward_norm = nn.LayerNorm(dim)
        self.feed_forward_1 = Linear(dim, dim)
        self.feed_forward_2 = Linear(dim, dim)
        self.inner_dropout = nn.Dropout(dropout)
        self.output_dropout = nn.Dropout(dropout)

    def _split(self, x: paddle.Tensor) -> paddle.Tensor:
        """``[B, L, D] -> [B, h, L, d]``."""
        return x.reshape([0, 0, self.heads, self.head_dim]).transpose([0, 2, 1, 3])

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """``x [B, L, D]``, ``mask [B, L]`` (1.0 on real entries) -> ``[B, L, D]`` (zeros on padding)."""
        q = self.attention_norm(x)
        scores = paddle.matmul(self._split(self.query(q)), self._split(self.key(x)), transpose_y=True)  # [B, h, L, L]
        weights = F.softmax(scores / math.sqrt(self.head_dim) + attention_bias(mask, self.causal), axis=-1)
        heads = paddle.matmul(self.attention_dropout(weights), self._split(self.value(x)))  # [B, h, L, d]
        a = q + self.output(heads.transpose([0, 2, 1, 3]).reshape([0, 0, self.heads * self.head_dim]))
        f = self.feed_forward_norm(a)
        y = f + self.output_dropout(self.feed_forward_2(self.inner_dropout(F.relu(self.feed_forward_1(f)))))
        return y * mask.unsqueeze(-1)


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
    count = segment_sum(paddle.ones_like(values[:, :1]), index, n)  # [n, 1]
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

    def lengths(self) -> paddle.Tensor:
        """``[B]`` int64: the number of entries of each session."""
        ones = paddle.ones_like(self.session).astype("float32").unsqueeze(1)  # [P, 1]
        return segment_sum(ones, self.session, len(self.last_node)).squeeze(1).astype("int64")

    def entry_positions(self) -> paddle.Tensor:
        """``[P]`` int64: the index of each entry in its session (0 = its first item)."""
        lengths = self.lengths()
        starts = paddle.cumsum(lengths) - lengths  # [B]: the first entry of each session
        order = paddle.cumsum(paddle.ones_like(self.session)) - 1  # [P]: 0, 1, ..., P-1
        return order - paddle.gather(starts, self.session)

    def last_entry(self, values: paddle.Tensor) -> paddle.Tensor:
        """The row of each session's last entry: ``[P, D] -> [B, D]``."""
        return paddle.gather(values, paddle.cumsum(self.lengths()) - 1)

    def padded(self, values: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor]:
        """One row per entry ``[P, D]`` laid out as right-padded sessions: ``([B, L, D]``
        (zeros on padding), ``mask [B, L]`` float32), ``L`` the longest session."""
        lengths = self.lengths()
        starts = paddle.cumsum(lengths) - lengths  # [B]
        columns = paddle.arange(lengths.max(), dtype="int64")  # [L]
        real = columns.unsqueeze(0) < lengths.unsqueeze(1)  # [B, L]
        index = (starts.unsqueeze(1) + columns.unsqueeze(0)) * real.astype("int64")  # padding reads entry 0, masked
        mask = real.astype(values.dtype)
        return paddle.gather_nd(values, index.unsqueeze(-1)) * mask.unsqueeze(-1), mask

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
    """The SR-GNN paper's initialisation: every parameter uniform in ``[-1/sqrt(D), 1/sqrt(D)]``,
    except the gains and biases of layer normalisations, which start at 1 and 0 (a gain
    near 0 would silence the layer)."""
    bound = 1.0 / math.sqrt(embedding_dim)
    norms = {id(p) for layer in model.sublayers(include_self=True) if isinstance(layer, nn.LayerNorm)
             for p in layer.parameters(include_sublayers=False)}
    for param in model.parameters():
        if id(param) not in norms:
            param.set_value(paddle.uniform(param.shape, dtype=param.dtype, min=-bound, max=bound))


def initialise(model: nn.Layer, init: str, embedding_dim: int) -> None:
    """``init: uniform``: :func:`uniform_init`; ``init: notebook`` keeps Paddle's default initialisers."""
    if init == "uniform":
        uniform_init(model, embedding_dim)
