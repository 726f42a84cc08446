"""GCE-GNN (Wang et al., "Global Context Enhanced Graph Neural Networks for Session-based
Recommendation", SIGIR 2020): every item of a session gets a session-level vector from the
session's own graph and a global-level vector from the item graph of all training sessions;
their sum is read out with reversed position embeddings and soft attention.

**Global graph** (built once from the training sessions, :meth:`GCEGNN.fit_sessions`, with
:func:`srgnn_paddle.data.global_graph.build_global_graph`): items within 3 positions of each
other in a training session are neighbours, weighted by how often (``w_ij``); each item keeps
its 12 heaviest neighbours. The table is part of the model's state (buffers
``global_neighbors``, ``global_weights``), so checkpoints, ``--resume``, ``evaluate``,
``predict`` and a loaded run use the graph of the run's training sessions (a ``--refit``
builds its own from training + validation).

**Global level** (session-aware attention over the ``S`` sampled neighbours ``N(v)`` of item
``v``, ``s`` the mean of the session's item embeddings, ``H`` hops):

    pi(v, j) = q_1^T LeakyReLU_0.2(W_1 [s * h_j ; w_vj])     alpha = softmax_j(pi(v, j))
    h_N(v) = sum_j alpha_j h_j        h_v^g = ReLU(W_2 dropout_gcn([h_v ; h_N(v)]))

With ``H`` hops the sampled neighbourhood is a tree of depth ``H`` (``S``, then ``S * S``
items per node); aggregation ``t`` (its own ``W_1``, ``q_1``, ``W_2``) updates every depth
``d < H - t`` from depth ``d + 1``, and depth 0 after the last is ``h_v^g``.

**Session level** (the session graph's distinct items, an edge type ``r`` per pair:
self, in, out, in-out, see :mod:`srgnn_paddle.data.typed_graph`):

    e_ij = LeakyReLU_0.2(a_r_ij^T (h_i * h_j))      beta_ij = softmax over i's neighbours j
    h_i^s = sum_j beta_ij h_j

**Readout** (``h'_v = dropout_local(h_v^s) + dropout_global(h_v^g)``, session clicks
``v_1..v_l``, ``p_k`` the embedding of position ``k`` counted from the end, ``p_1`` the last):

    z_i = tanh(W_3 [h'_vi ; p_(l-i+1)])          s' = mean_i h'_vi
    gamma_i = q_2^T sigmoid(W_4 z_i + W_5 s' + b_4)       S = sum_i gamma_i h'_vi

and item ``v`` scores ``S . h_v`` (softmax cross-entropy over the catalogue).

Settings of the official code (``main.py``), all config options: ``embedding_dim`` 100,
hops ``num_layers`` (0 = 1, the official default; DIGINETICA 2), ``n_sample`` (0 = 12),
``dropout_gcn`` / ``dropout_local`` / ``dropout_global`` (DIGINETICA 0.2 / 0 / 0.5), LeakyReLU
slope 0.2, ReLU, every parameter uniform in ``+-1/sqrt(D)`` (``init: uniform``);
``configs/paper_gcegnn.yaml`` has the DIGINETICA ones.

Where this implementation differs from the paper or the official code, and why:

* **Neighbour sampling.** The official code fixes 12 slots per item once before training
  (``handle_adj``: the top 12 in random order, or, for an item with fewer neighbours, 12
  draws with replacement from them, numpy seeded 2020) and uses that table for training and
  evaluation (its per-step resampling is commented out). Here training draws afresh every
  step, seeded by ``(seed, epoch, batch index)`` (:attr:`~srgnn_paddle.data.Batch.seed`): an
  item with at least ``S`` neighbours gets ``S`` of them without replacement, one with fewer
  gets ``S`` draws with replacement (the official rule); evaluation is deterministic: the
  top ``S``, or, with fewer, the neighbours repeated in order (slot ``k`` holds neighbour
  ``k mod degree``). With ``S = 12`` an item with 12 neighbours aggregates all of them either
  way; only the repetition pattern of items with fewer differs. A batch without a seed
  (built by hand) is treated as in evaluation.
* **Items without a neighbour** aggregate nothing (``h_N = 0``); the official code attends
  over 12 copies of item 0, whose embedding it trains; here row 0 is the padding (zeros).
* **Padding.** The official code computes both levels for every padded node slot (the
  dataset's longest session) and masks later; here only the real nodes and clicks are
  computed (the packed layout): the same numbers for them.
* **Readout.** ``W_3`` has no bias (the paper's ``b_3``; the official code has none) and
  takes ``[h' ; p]`` (the official ``[p ; h']`` is the same layer with its rows permuted);
  the position table has 200 rows, as the official one, and positions beyond 200 share the
  last (the official code fails on longer sessions).
* **Session graph.** Every node has its self edge (the official code omits it only when the
  dataset's longest session has one item).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Tuple

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from srgnn_paddle.config import Config
from srgnn_paddle.data.global_graph import TOP_K, build_global_graph
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.data.typed_graph import EDGE_TYPES, TypedGraph, build_typed_graph
from srgnn_paddle.kernels.attention import AttentionPairs, segment_attention
from srgnn_paddle.kernels.linear import KernelLayer, Linear
from srgnn_paddle.models.layers import (as_tensor, initialise, n_rows, n_segments, segment_mean, segment_softmax,
                                        segment_sum)
from srgnn_paddle.models.sequence import SessionModel

POSITIONS = 200  #: rows of the reversed position table (the official code's)
SLOPE = 0.2  #: the LeakyReLU slope of both attentions (the official --alpha)
DEFAULT_HOPS = 1  #: the official --n_iter default (DIGINETICA: 2)
SAMPLING_STREAM = 2  #: the model's draws use seed [run seed, epoch, batch, 2] (the loader's use ..., 1)


def draw_slots(degree: np.ndarray, n_sample: int, rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Which of its neighbours (a column of the global graph's table) each of an item's
    ``S = n_sample`` slots holds: ``degree [M]`` (each item's filled columns) -> ``[M, S]`` int64.

    ``rng`` given (training): ``S`` distinct columns in random order when ``degree >= S``,
    else ``S`` draws with replacement (column 0 for an item without neighbours); ``rng``
    None (evaluation): slot ``k`` holds column ``k mod degree``. The draws are
    ``rng.random([M, K])`` (the keys of the random order), then ``rng.random([M, S])``."""
    degree = np.asarray(degree, dtype=np.int64)
    column = np.arange(n_sample, dtype=np.int64)[None, :]
    if rng is None:
        return column % np.maximum(degree, 1)[:, None]
    keys = rng.random((len(degree), TOP_K), dtype=np.float32)
    keys[np.arange(TOP_K)[None, :] >= degree[:, None]] = 2.0  # empty columns last
    subset = np.argsort(keys, axis=1, kind="stable")[:, :n_sample]  # S distinct neighbours
    uniform = rng.random((len(degree), n_sample), dtype=np.float32)
    drawn = np.floor(uniform * degree.astype(np.float32)[:, None]).astype(np.int64)
    drawn = np.minimum(drawn, np.maximum(degree - 1, 0)[:, None])  # S draws with replacement
    return np.where((degree >= n_sample)[:, None], subset, drawn)


class SampledTree(NamedTuple):
    """The sampled neighbourhood of a batch's ``n`` nodes to ``H`` hops, as numpy arrays:
    ``R_d = n S^d`` rows at depth ``d`` (depth 0: the nodes; row ``r`` of depth ``d + 1`` is
    slot ``r mod S`` of row ``r // S`` of depth ``d``).

    items:    ``[U]`` int64, the distinct items of the tree (the nodes' included).
    rows:     per depth ``d``: ``[R_d]`` int64, the item of each row as an index into ``items``.
    weights:  per depth ``d``: ``[R_d]`` float32, the weight of the edge from the row's parent
              (0: the slot of an item without neighbours); empty at depth 0.
    sessions: per depth ``d``: ``[R_d]`` int64, the session of each row (its node's).
    """

    items: np.ndarray
    rows: Tuple[np.ndarray, ...]
    weights: Tuple[np.ndarray, ...]
    sessions: Tuple[np.ndarray, ...]


class Units(NamedTuple):
    """The distinct computations of one global aggregation over a :class:`SampledTree`.

    The result of an aggregation for a parent row depends only on the row's session, its
    own vector and the multiset of its slots' neighbour vectors (the attention is a softmax
    over the slots, whatever their order). In the first aggregation the neighbour vectors are
    item embeddings, so rows that agree on their session, item and the multiset of their
    slots' items share one *unit*, and each unit attends over its distinct neighbours once,
    each counted as often as it was drawn (the ``P`` *pairs*, :class:`AttentionPairs`, whose
    ``item`` indexes the tree's ``items``); the product with ``W_1`` depends only on the
    (session, neighbour) of a pair: the ``Q`` *keys*. In a later aggregation (neighbour
    vectors of their own per row) every parent row is a unit and every slot a pair and a key.

    row_unit:    ``[R]`` int64, the unit of each parent row (depths in order).
    unit_item:   ``[K]`` int64, the item of each unit (first aggregation; ``None`` in a later one).
    pairs:       the :class:`AttentionPairs` of the units (``key`` indexes the keys).
    key_session: ``[Q]`` int64, each key's session.
    key_item:    ``[Q]`` int64, each key's neighbour: its row of the neighbour vectors
                 (``None``: key ``k`` is row ``k``).
    """

    row_unit: np.ndarray
    unit_item: Optional[np.ndarray]
    pairs: AttentionPairs
    key_session: np.ndarray
    key_item: Optional[np.ndarray]


def first_aggregation_units(tree: SampledTree, n_sample: int) -> Units:
    """The :class:`Units` of ``tree``'s first aggregation (parent rows: depths ``0..H-1``,
    neighbour vectors: the embeddings of ``tree.items``)."""
    hops = len(tree.rows) - 1
    own = np.concatenate(tree.rows[:hops])  # [R] parent rows, depths in order
    session = np.concatenate(tree.sessions[:hops])
    children = np.concatenate(tree.rows[1:]).reshape(-1, n_sample)  # [R, S]
    weights = np.concatenate(tree.weights[1:]).reshape(-1, n_sample)
    order = np.argsort(children, axis=1, kind="stable")
    children, weights = np.take_along_axis(children, order, 1), np.take_along_axis(weights, order, 1)
    keys = np.ascontiguousarray(np.concatenate([session[:, None], own[:, None], children], axis=1))
    rows = keys.view(np.dtype((np.void, keys.itemsize * keys.shape[1]))).reshape(-1)  # each row as one value
    _, first, row_unit = np.unique(rows, return_index=True, return_inverse=True)  # (np.unique(axis=0): 5x slower)
    children, weights, unit_session = children[first], weights[first], session[first]  # [K, S]
    starts = np.ones(children.shape, dtype=bool)
    starts[:, 1:] = children[:, 1:] != children[:, :-1]  # the first slot of each distinct neighbour
    unit, column = np.nonzero(starts)  # row-major: units in order
    count = np.diff(np.append(unit * n_sample + column, children.size)).astype(np.float32)  # run lengths
    item = children[unit, column]
    span = len(tree.items)
    codes, key = np.unique(unit_session[unit] * span + item, return_inverse=True)
    pairs = AttentionPairs(unit=unit, key=key.reshape(-1), item=item, weight=weights[unit, column], count=count,
                           n_units=len(first))
    return Units(row_unit.reshape(-1), own[first], pairs, key_session=codes // span, key_item=codes % span)


def row_units(tree: SampledTree, depth: int, n_sample: int) -> Units:
    """The :class:`Units` of a later aggregation at ``depth`` (``< H``): every row of the
    depth a unit, every row of ``depth + 1`` (its neighbour vectors, in order) a pair and a key."""
    n = len(tree.rows[depth + 1])
    index = np.arange(n, dtype=np.int64)
    pairs = AttentionPairs(unit=index // n_sample, key=index, item=index, weight=tree.weights[depth + 1],
                           count=np.ones(n, dtype=np.float32), n_units=n // n_sample)
    return Units(np.arange(n // n_sample, dtype=np.int64), None, pairs, key_session=tree.sessions[depth + 1],
                 key_item=None)


class GlobalLevel(NamedTuple):
    """What the global level of a batch reads, built on the host from its :class:`SampledTree`
    (:func:`global_level`; numpy arrays, or the exported encoder's inputs):

    items:       ``[U]`` int64, the distinct items of the tree (their embeddings are looked up once).
    node_rows:   ``[n]`` int64, each node's row of ``items`` (the tree's depth 0).
    depth_units: per depth ``d < H``: ``[R_d]`` int64, the unit of the first aggregation of each row.
    first:       the :class:`Units` of the first aggregation (``row_unit`` as in ``depth_units``).
    later:       per depth ``d < H - 1``: the :class:`Units` of a later aggregation at ``d``
                 (:func:`row_units`).
    """

    items: np.ndarray
    node_rows: np.ndarray
    depth_units: Tuple[np.ndarray, ...]
    first: Units
    later: Tuple[Units, ...]


def global_level(tree: SampledTree, n_sample: int) -> GlobalLevel:
    """The :class:`GlobalLevel` of ``tree`` (``S = n_sample`` slots per row)."""
    hops = len(tree.rows) - 1
    first = first_aggregation_units(tree, n_sample)
    depth_units = np.split(first.row_unit, np.cumsum([len(rows) for rows in tree.rows[:hops - 1]]))
    later = tuple(row_units(tree, depth, n_sample) for depth in range(hops - 1))
    return GlobalLevel(tree.items, tree.rows[0], tuple(depth_units), first, later)


#: a global graph's rows of items ``[M]``: ``([M, K] int64, [M, K] float32)``, neighbours heaviest
#: first, 0 / 0 in empty columns
NeighbourTable = Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]


def sample_slots(table: NeighbourTable, items: np.ndarray, n_sample: int,
                 rng: Optional[np.random.Generator] = None) -> Tuple[np.ndarray, np.ndarray]:
    """``S = n_sample`` global neighbours of each of ``items [M]`` and their edge weights, from
    the rows ``table`` gives, drawn by :func:`draw_slots` (``rng`` None: evaluation's
    deterministic slots): ``([M, S] int64, [M, S] float32)``."""
    neighbours, weights = table(items)
    slots = draw_slots((weights > 0).sum(axis=1), n_sample, rng)
    return np.take_along_axis(neighbours, slots, 1), np.take_along_axis(weights, slots, 1)


def sample_tree(table: NeighbourTable, node_items: np.ndarray, node_session: np.ndarray, hops: int, n_sample: int,
                rng: Optional[np.random.Generator] = None) -> SampledTree:
    """The :class:`SampledTree` of nodes ``node_items [n]`` (their sessions ``node_session [n]``)
    to ``hops`` hops, depth by depth, each row's slots by :func:`sample_slots` from ``table``."""
    ids, weights, sessions = [np.asarray(node_items, np.int64)], [np.zeros(0, np.float32)], [np.asarray(node_session, np.int64)]
    for _ in range(hops):
        neighbours, weight = sample_slots(table, ids[-1], n_sample, rng)
        ids.append(neighbours.reshape(-1))
        weights.append(weight.reshape(-1))
        sessions.append(np.repeat(sessions[-1], n_sample))
    items, inverse = np.unique(np.concatenate(ids), return_inverse=True)
    rows = np.split(inverse.reshape(-1), np.cumsum([len(i) for i in ids])[:-1])
    return SampledTree(items, tuple(rows), tuple(weights), tuple(sessions))


class SessionAggregator(nn.Layer):
    """The session-level attention over a typed session graph: ``a_r`` for the four edge
    types as the columns of one ``D -> 4`` layer (``attention``)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.attention = Linear(d, EDGE_TYPES, bias_attr=False)  # [a_self, a_in, a_out, a_in-out]

    def forward(self, hidden: paddle.Tensor, rows: paddle.Tensor, cols: paddle.Tensor,
                types: paddle.Tensor) -> paddle.Tensor:
        """``hidden [n, D]`` node vectors, edges ``rows``, ``cols``, ``types [E]`` (rows
        sorted) -> ``h^s [n, D]``."""
        neighbours = paddle.gather(hidden, cols)  # [E, D]
        scores = F.leaky_relu(self.attention(paddle.gather(hidden, rows) * neighbours), SLOPE)  # [E, 4]
        scores = paddle.take_along_axis(scores, types.unsqueeze(-1), axis=1).squeeze(-1)  # [E]: e_ij of its type
        alpha = segment_softmax(scores, rows, n_rows(hidden))  # over each node's neighbours
        return segment_sum(alpha.unsqueeze(-1) * neighbours, rows, n_rows(hidden))


class GlobalAggregator(nn.Layer, KernelLayer):
    """One global-level aggregation: session-aware attention over sampled neighbours
    (``w_1``, ``q_1``), then ``ReLU(W_2 dropout([h_v ; h_N(v)]))`` (``w_2``): :meth:`attend`
    computes ``h_N`` once per unit (:class:`Units`), :meth:`combine` the rest per row. The
    attention runs on the kernels' ``segment_attention`` (:attr:`kernels`, see
    :mod:`srgnn_paddle.kernels.attention`)."""

    def __init__(self, d: int, dropout: float) -> None:
        super().__init__()
        self.w_1 = Linear(d + 1, d, bias_attr=False)
        self.q_1 = nn.Linear(d, 1, bias_attr=False)  # its weight is the kernel's q
        self.w_2 = Linear(2 * d, d, bias_attr=False)
        self.dropout = nn.Dropout(dropout)

    def attend(self, vectors: paddle.Tensor, sessions: paddle.Tensor, units: Units) -> paddle.Tensor:
        """``h_N`` of each unit: ``vectors [V, D]`` the neighbour vectors (``units.key_item``
        and ``units.pairs.item`` index them), ``sessions [B, D]`` the session vectors -> ``[K, D]``
        (0 for an item without neighbours: its slots hold the padding item, whose vector is 0).

        The weight enters ``W_1`` linearly, ``W_1 [s * h_j ; w] = W_1 [s * h_j ; 0] + w W_1[D]``
        (``W_1[D]`` the weight's row of the layer), so the product with ``W_1`` runs once per
        key and the weight is added per pair."""
        d = vectors.shape[1]
        neighbours = vectors if units.key_item is None else paddle.gather(vectors, as_tensor(units.key_item))
        keyed = paddle.gather(sessions, as_tensor(units.key_session)) * neighbours  # s * h_j: [Q, D]
        base = self.w_1(paddle.concat([keyed, paddle.zeros_like(keyed[:, :1])], axis=1))  # [Q, D]
        attention = segment_attention if self.kernels is None else self.kernels.segment_attention
        return attention(base, self.w_1.weight[d], self.q_1.weight, vectors, units.pairs, SLOPE)

    def combine(self, features: paddle.Tensor) -> paddle.Tensor:
        """``ReLU(W_2 dropout([h_v ; h_N(v)]))``: ``features [R, 2D]`` (``[h_v ; h_N(v)]``
        of each row) -> ``[R, D]``."""
        return F.relu(self.w_2(self.dropout(features)))


class GCEGNN(SessionModel):
    """GCE-GNN. Options: ``embedding_dim`` ``D``, ``num_layers`` (hops; 0 = 1), ``n_sample``
    (0 = 12), ``dropout_gcn``, ``dropout_local``, ``dropout_global``, ``init``,
    ``score_padding``; ``sparse_item_grad`` as in :class:`~srgnn_paddle.models.sequence.SessionModel`.
    Call :meth:`fit_sessions` (the trainer does) before training: until then the global
    graph is empty and the global level sees no neighbours."""

    name = "gcegnn"
    display_name = "GCEGNN"
    batch_layout = "typed_session_graph"
    uses_training_sessions = True

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        super().__init__(cfg, sparse_item_grad)
        d = self.embedding_dim
        self.hops = int(cfg.num_layers or DEFAULT_HOPS)
        self.n_sample = int(cfg.n_sample or TOP_K)
        self.pos_emb = nn.Embedding(POSITIONS, d)
        self.session_agg = SessionAggregator(d)
        self.global_agg = nn.LayerList([GlobalAggregator(d, cfg.dropout_gcn) for _ in range(self.hops)])
        self.w_3 = Linear(2 * d, d, bias_attr=False)  # z = tanh(W_3 [h' ; p])
        self.w_4 = Linear(d, d)  # with b_4
        self.w_5 = Linear(d, d, bias_attr=False)
        self.q_2 = Linear(d, 1, bias_attr=False)
        self.dropout_local = nn.Dropout(cfg.dropout_local)
        self.dropout_global = nn.Dropout(cfg.dropout_global)
        initialise(self, cfg.init, d)
        # the global graph: part of the state, filled by fit_sessions
        self.register_buffer("global_neighbors", paddle.zeros([self.n_items, TOP_K], dtype="int64"), persistable=True)
        self.register_buffer("global_weights", paddle.zeros([self.n_items, TOP_K], dtype="float32"), persistable=True)

    # ------------------------------------------------------------------ the global graph
    def fit_sessions(self, sessions: Any) -> None:
        """Build the global graph of the training sessions (a
        :class:`~srgnn_paddle.data.datasets.SessionTable`) into the model's buffers."""
        graph = build_global_graph(sessions, self.n_items)
        self.global_neighbors.set_value(graph.neighbors)
        self.global_weights.set_value(graph.weights)

    def neighbour_table(self, items: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The global graph's rows of ``items [M]`` (int64): ``([M, K] int64, [M, K] float32)``,
        neighbours heaviest first, 0 / 0 in empty columns."""
        index = paddle.to_tensor(np.asarray(items, dtype=np.int64))
        return (paddle.gather(self.global_neighbors, index).numpy(), paddle.gather(self.global_weights, index).numpy())

    def sample_neighbors(self, items: paddle.Tensor,
                         rng: Optional[np.random.Generator] = None) -> Tuple[paddle.Tensor, paddle.Tensor]:
        """``S`` global neighbours of each item and their edge weights: ``items [M]`` int64 ->
        ``([M, S] int64, [M, S] float32)``; 0 / 0 for an item without neighbours.

        ``rng`` given (training): a random subset of ``S`` of an item's neighbours when it has
        at least ``S``, else ``S`` draws with replacement. ``rng`` None (evaluation): slot
        ``k`` holds neighbour ``k mod degree``: the top ``S``, or all of them repeated in order
        (:func:`draw_slots`).
        """
        items = np.asarray(items.numpy() if isinstance(items, paddle.Tensor) else items)
        ids, weights = sample_slots(self.neighbour_table, items, self.n_sample, rng)
        return paddle.to_tensor(ids), paddle.to_tensor(weights)

    def sample_tree(self, node_items: np.ndarray, node_session: np.ndarray,
                    rng: Optional[np.random.Generator] = None) -> SampledTree:
        """The :class:`SampledTree` of nodes ``node_items [n]`` (their sessions
        ``node_session [n]``) to ``hops`` hops, drawn as :meth:`sample_neighbors` (depth by depth)."""
        return sample_tree(self.neighbour_table, node_items, node_session, self.hops, self.n_sample, rng)

    def global_vectors(self, level: GlobalLevel, vectors: paddle.Tensor, sessions: paddle.Tensor) -> paddle.Tensor:
        """``h^g`` of the batch's nodes: ``vectors [U, D]`` the embeddings of ``level.items``,
        ``sessions [B, D]`` the session vectors -> ``[n, D]``.

        Aggregation ``t`` updates depths ``0..H-1-t`` from the depth below it; the first one
        (neighbour vectors: item embeddings) attends once per distinct computation
        (:func:`first_aggregation_units`), the later ones once per row (:func:`row_units`)."""
        units = level.first
        first = self.global_agg[0]
        features = paddle.concat([paddle.gather(vectors, as_tensor(units.unit_item)),
                                  first.attend(vectors, sessions, units)], axis=1)  # [h_v ; h_N(v)] of each unit: [K, 2D]
        depths = [first.combine(paddle.gather(features, as_tensor(level.depth_units[h])))
                  for h in range(self.hops)]  # depth h after the first aggregation: [R_h, D]
        for t in range(1, self.hops):
            aggregate = self.global_agg[t]
            depths = [aggregate.combine(paddle.concat(
                [depths[h], aggregate.attend(depths[h + 1], sessions, level.later[h])], axis=1))
                for h in range(self.hops - t)]
        return depths[0]

    # ------------------------------------------------------------------ the session
    def encode(self, batch: Batch) -> paddle.Tensor:
        """Session vectors ``S``: ``[B, D]``, from the batch's typed graph (built here from
        ``batch.history`` when the loader did not)."""
        graph = batch.graph if batch.graph is not None else build_typed_graph(batch.history)
        seed = getattr(batch, "seed", None)
        rng = np.random.default_rng([*seed, SAMPLING_STREAM]) if self.training and seed is not None else None
        return self.encode_graph(graph, rng)

    def encode_graph(self, graph: TypedGraph, rng: Optional[np.random.Generator] = None) -> paddle.Tensor:
        """Session vectors ``[B, D]`` of a :class:`~srgnn_paddle.data.typed_graph.TypedGraph`
        (numpy arrays); ``rng``: the neighbour draws (None: evaluation's deterministic ones)."""
        tree = self.sample_tree(graph.node_items, graph.node_session, rng)
        return self.encode_level(graph, global_level(tree, self.n_sample))

    def encode_level(self, graph: TypedGraph, level: GlobalLevel) -> paddle.Tensor:
        """Session vectors ``[B, D]`` from a batch's typed graph (its edge and position fields)
        and its :class:`GlobalLevel`, built on the host: Paddle operations only (what the
        exported encoder runs)."""
        n_sessions = n_segments(graph.pos_session)
        rows, cols, types, pos_node, pos_session, pos_reversed = (as_tensor(x) for x in graph[2:])
        vectors = self.item_emb(as_tensor(level.items))  # [U, D]: every item of the batch, looked up once
        h = paddle.gather(vectors, as_tensor(level.node_rows))  # the nodes: [n, D]
        session = segment_mean(paddle.gather(h, pos_node), pos_session, n_sessions)  # s: [B, D]
        local = self.session_agg(h, rows, cols, types)  # h^s [n, D]
        global_ = self.global_vectors(level, vectors, session)  # h^g [n, D]
        hidden = paddle.gather(self.dropout_local(local) + self.dropout_global(global_), pos_node)  # h'_vi [P, D]
        positions = self.pos_emb(pos_reversed.clip(max=POSITIONS - 1))  # [P, D]
        z = paddle.tanh(self.w_3(paddle.concat([hidden, positions], axis=1)))  # [P, D]
        mean = segment_mean(hidden, pos_session, n_sessions)  # s' [B, D]
        gamma = self.q_2(F.sigmoid(self.w_4(z) + paddle.gather(self.w_5(mean), pos_session)))  # [P, 1]
        return segment_sum(gamma * hidden, pos_session, n_sessions)  # [B, D]
