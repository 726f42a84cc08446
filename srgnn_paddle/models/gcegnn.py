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

from typing import Any, List, Optional, Tuple

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from srgnn_paddle.config import Config
from srgnn_paddle.data.global_graph import TOP_K, build_global_graph
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.data.typed_graph import EDGE_TYPES, TypedGraph, build_typed_graph
from srgnn_paddle.kernels.linear import Linear
from srgnn_paddle.models.layers import as_tensor, initialise, segment_mean, segment_softmax, segment_sum
from srgnn_paddle.models.sequence import SessionModel

POSITIONS = 200  #: rows of the reversed position table (the official code's)
SLOPE = 0.2  #: the LeakyReLU slope of both attentions (the official --alpha)
DEFAULT_HOPS = 1  #: the official --n_iter default (DIGINETICA: 2)
SAMPLING_STREAM = 2  #: the model's draws use seed [run seed, epoch, batch, 2] (the loader's use ..., 1)


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
        alpha = segment_softmax(scores, rows, hidden.shape[0])  # over each node's neighbours
        return segment_sum(alpha.unsqueeze(-1) * neighbours, rows, hidden.shape[0])


class GlobalAggregator(nn.Layer):
    """One global-level aggregation: session-aware attention over sampled neighbours
    (``w_1``, ``q_1``), then ``ReLU(W_2 dropout([h_v ; h_N(v)]))`` (``w_2``)."""

    def __init__(self, d: int, dropout: float) -> None:
        super().__init__()
        self.w_1 = Linear(d + 1, d, bias_attr=False)
        self.q_1 = Linear(d, 1, bias_attr=False)
        self.w_2 = Linear(2 * d, d, bias_attr=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, own: paddle.Tensor, neighbours: paddle.Tensor, weights: paddle.Tensor,
                session: paddle.Tensor) -> paddle.Tensor:
        """``own [n, R, D]``, their neighbours ``[n, R, S, D]`` with edge weights
        ``[n, R, S]``, the session vector of each node ``[n, 1, D]`` -> ``[n, R, D]``."""
        features = paddle.concat([session.unsqueeze(-2) * neighbours, weights.unsqueeze(-1)], axis=-1)  # [n,R,S,D+1]
        pi = self.q_1(F.leaky_relu(self.w_1(features), SLOPE)).squeeze(-1)  # [n, R, S]
        alpha = F.softmax(pi, axis=-1).unsqueeze(-1)
        summary = paddle.sum(alpha * neighbours, axis=-2)  # [n, R, D]; 0 for an item without neighbours
        return F.relu(self.w_2(self.dropout(paddle.concat([own, summary], axis=-1))))


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

    def sample_neighbors(self, items: paddle.Tensor,
                         rng: Optional[np.random.Generator] = None) -> Tuple[paddle.Tensor, paddle.Tensor]:
        """``S`` global neighbours of each item and their edge weights: ``items [M]`` int64 ->
        ``([M, S] int64, [M, S] float32)``; 0 / 0 for an item without neighbours.

        ``rng`` given (training): a random subset of ``S`` of an item's neighbours when it has
        at least ``S``, else ``S`` draws with replacement. ``rng`` None (evaluation): slot
        ``k`` holds neighbour ``k mod degree``: the top ``S``, or all of them repeated in order.
        """
        table = paddle.gather(self.global_neighbors, items)  # [M, K], heaviest first
        weights = paddle.gather(self.global_weights, items)
        degree = paddle.sum((weights > 0).astype("int64"), axis=1, keepdim=True)  # [M, 1]
        size = [items.shape[0], self.n_sample]
        slot = paddle.arange(self.n_sample, dtype="int64").unsqueeze(0).expand(size)
        if rng is None:
            slots = slot % degree.clip(min=1)
        else:
            column = paddle.arange(TOP_K, dtype="int64").unsqueeze(0).expand([size[0], TOP_K])
            keys = paddle.to_tensor(rng.random((size[0], TOP_K), dtype=np.float32))
            keys = paddle.where(column < degree, keys, paddle.full_like(keys, 2.0))  # empty slots last
            subset = paddle.argsort(keys, axis=1)[:, :self.n_sample]  # S distinct neighbours
            uniform = paddle.to_tensor(rng.random(size, dtype=np.float32))
            drawn = paddle.floor(uniform * degree.astype("float32")).astype("int64")
            drawn = paddle.minimum(drawn, (degree - 1).clip(min=0).expand(size))  # S draws with replacement
            slots = paddle.where((degree >= self.n_sample).expand(size), subset, drawn)
        return paddle.take_along_axis(table, slots, axis=1), paddle.take_along_axis(weights, slots, axis=1)

    def global_vectors(self, items: paddle.Tensor, session: paddle.Tensor,
                       rng: Optional[np.random.Generator] = None) -> paddle.Tensor:
        """``h^g``: the global-level vectors of ``items [n]`` (int64) in their sessions
        (``session [n, D]``, the session vector of each) -> ``[n, D]``."""
        n, d, s = items.shape[0], self.embedding_dim, self.n_sample
        ids: List[paddle.Tensor] = [items]  # depth h: [n * S^h]
        weights: List[paddle.Tensor] = []  # edges from depth h to h + 1: [n, S^h, S]
        for hop in range(self.hops):
            neighbours, weight = self.sample_neighbors(ids[-1], rng)
            ids.append(neighbours.reshape([-1]))
            weights.append(weight.reshape([n, s ** hop, s]))
        vectors = [self.item_emb(i).reshape([n, s ** h, d]) for h, i in enumerate(ids)]
        session = session.unsqueeze(1)  # [n, 1, D]
        for t, aggregate in enumerate(self.global_agg):
            vectors = [aggregate(vectors[h], vectors[h + 1].reshape([n, s ** h, s, d]), weights[h], session)
                       for h in range(self.hops - t)]
        return vectors[0].reshape([n, d])

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
        n_sessions = int(graph.pos_session[-1]) + 1
        node_items, node_session, rows, cols, types, pos_node, pos_session, pos_reversed = (
            as_tensor(x) for x in graph)
        h = self.item_emb(node_items)  # [n, D]
        session = segment_mean(paddle.gather(h, pos_node), pos_session, n_sessions)  # s: [B, D]
        local = self.session_agg(h, rows, cols, types)  # h^s [n, D]
        global_ = self.global_vectors(node_items, paddle.gather(session, node_session), rng)  # h^g [n, D]
        hidden = paddle.gather(self.dropout_local(local) + self.dropout_global(global_), pos_node)  # h'_vi [P, D]
        positions = self.pos_emb(pos_reversed.clip(max=POSITIONS - 1))  # [P, D]
        z = paddle.tanh(self.w_3(paddle.concat([hidden, positions], axis=1)))  # [P, D]
        mean = segment_mean(hidden, pos_session, n_sessions)  # s' [B, D]
        gamma = self.q_2(F.sigmoid(self.w_4(z) + paddle.gather(self.w_5(mean), pos_session)))  # [P, 1]
        return segment_sum(gamma * hidden, pos_session, n_sessions)  # [B, D]
