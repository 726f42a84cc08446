"""SGNN-HN (Pan et al., "Star Graph Neural Networks for Session-based Recommendation",
CIKM 2020): a star graph per session, a highway network, an attention readout and
L2-normalised scores with a scale.

**The star graph.** A session's satellite nodes are its distinct items ``x_1..x_m``,
connected as in SR-GNN's session graph (an edge per transition, the incoming and outgoing
adjacency normalised by degree); one star node ``x_s`` per session is connected to every
satellite. The satellites and their edges are the packed session graph the loader builds
(:func:`~srgnn_paddle.data.graph.build_packed_graph`, each session's nodes one contiguous
range), and the star connections are exactly "every node to its session": so the star graph
is derived from the packed graph (:class:`StarGraph`) and SGNN-HN reads the ``session_graph``
layout, servable like SR-GNN.

**Embeddings on the star graph** (``L`` layers, ``num_layers``). Initially ``h_i^0`` is item
``x_i``'s embedding and ``x_s^0 = mean_i h_i^0``. Layer ``l``:

* satellites: SR-GNN's gated graph cell (:class:`~srgnn_paddle.models.srgnn.GNN`, reused,
  one step) gives ``hat h_i^l`` from ``h^{l-1}`` and the session's adjacency; then the star's
  information enters through a gate, ``alpha_i = sigmoid((W_q1 hat h_i^l)^T (W_k1 x_s^{l-1}) / sqrt(d))``,
  ``h_i^l = (1 - alpha_i) hat h_i^l + alpha_i x_s^{l-1}``;
* the star: ``beta_i = softmax_i((W_q2 x_s^{l-1})^T (W_k2 h_i^l) / sqrt(d))`` over the
  session's satellites, ``x_s^l = sum_i beta_i h_i^l``.

**Highway network** between the initial and the final node states:
``g = sigmoid(W_g [h^0; h^L])``, ``h^f = g * h^0 + (1 - g) * h^L``.

**Readout.** With position embeddings ``p_j`` (plain order: ``p_1`` for the history's first
item), ``z_j = h^f_{t_j} + p_j`` for every history entry ``j = 1..n`` (repeats included), the
local vector ``z_n`` (last entry), ``gamma_j = w_0^T sigmoid(W_1 z_n + W_2 x_s^L + W_3 z_j + b)``,
``z_g = sum_j gamma_j z_j`` and ``z_h = W_4 [z_g; z_n]``.

**Prediction.** ``y = softmax(tau * hat z_h^T hat v_i)`` with ``hat`` the L2 normalisation
and ``tau`` the scale (``scale``, 0 = the paper's 12): an inner product of
:meth:`SGNNHN.encode` = ``tau * hat z_h`` with :meth:`SGNNHN.item_embeddings` = the
normalised item table, trained with the full-softmax cross-entropy.

Where this implementation differs from the official code (bitbucket nudtpanzq/sgnn-hn, as
its public derivatives and RecBole-GNN show it) and why:

* the official code's gate and star attention use the raw vectors
  (``sigmoid(hat h_i . x_s / sqrt(d))``, ``softmax_i(h_i . x_s)``); here they have the
  paper's query / key projections ``W_q1, W_k1, W_q2, W_k2`` and both scale by
  ``1 / sqrt(d)``, as in the paper's self-attention; the sigmoid keeping the gate in
  ``(0, 1)`` is the official code's;
* the official normalisation subtracts each vector's mean before dividing by its norm;
  here it is the plain L2 normalisation of the paper's equations (the cosine);
* the official code cuts sessions to their last ``cutnum = 10`` items and has as many
  position embeddings; here the cut is the protocol's (``session_max_length`` in the paper
  protocol, ``max_length`` in the notebook's; ``configs/paper_sgnnhn.yaml`` sets 10) and
  there are ``max(max_length, session_max_length)`` position embeddings, later positions
  sharing the last one;
* the star attention's softmax subtracts each session's largest logit (a stable softmax,
  the same value); the official code exponentiates the raw logits.

Host kernels (``kernels: host``): the ``Linear`` layers (the cell's ``linear_edge_in`` /
``linear_edge_out``, ``w_q1``, ``w_k1``, ``w_q2``, ``w_k2``, ``w_g``, ``w_1``, ``w_2``,
``w_3``, ``w_0``, ``w_4``), the cell's gate GEMMs, the normalisation of the item table
(:class:`~srgnn_paddle.kernels.linear.NormalizedRows`: Paddle's CPU backward of it took most of a step) and the softmax.
"""
from __future__ import annotations

import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from srgnn_paddle.config import Config
from srgnn_paddle.data.graph import PackedGraph, build_packed_graph
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.kernels.linear import Linear, NormalizedRows
from srgnn_paddle.models.layers import PackedAdjacency, PackedHistory, as_tensor, initialise, segment_sum
from srgnn_paddle.models.sequence import SessionModel
from srgnn_paddle.models.srgnn import GNN


class StarGraph:
    """The star connections of a :class:`~srgnn_paddle.data.graph.PackedGraph`: the star node
    of session ``b`` is linked to every node (satellite) of ``b``. Built from the packed
    graph's arrays with Paddle ops (so a traced encoder derives it too): ``node_session [n]``,
    the session of every node (non-decreasing: a session's nodes are one range)."""

    def __init__(self, graph: PackedGraph) -> None:
        self.pos_session = as_tensor(graph.pos_session)  # [P]
        self.last_node = as_tensor(graph.last_node)  # [B]
        # every entry writes its session onto its node; the entries of one node agree
        self.node_session = paddle.scatter(paddle.zeros_like(as_tensor(graph.node_items)), as_tensor(graph.pos_node),
                                           self.pos_session, overwrite=True)  # [n]

    # sizes in methods, not in __init__: paddle.jit.to_static converts them there (serving's export)
    def n_sessions(self) -> int:
        return len(self.last_node)

    def entries(self):
        """``(entry_position [P], last_entry [B])`` int64: each history entry's position in its
        history (0 = the first) and the index of each session's last entry."""
        ones = paddle.ones_like(self.pos_session).astype("float32").unsqueeze(-1)  # [P, 1]
        counts = segment_sum(ones, self.pos_session, self.n_sessions()).reshape([-1]).astype("int64")  # [B]
        ends = paddle.cumsum(counts)  # [B]: one past each session's last entry
        index = paddle.cumsum(paddle.ones_like(self.pos_session)) - 1  # [P]: 0..P-1
        return index - paddle.gather(ends - counts, self.pos_session), ends - 1

    def mean(self, nodes: paddle.Tensor) -> paddle.Tensor:
        """Each session's mean satellite: ``[n, D] -> [B, D]``."""
        total = segment_sum(nodes, self.node_session, self.n_sessions())
        count = segment_sum(paddle.ones_like(nodes[:, :1]), self.node_session, self.n_sessions())
        return total / count

    def broadcast(self, star: paddle.Tensor) -> paddle.Tensor:
        """Each node's star vector: ``[B, D] -> [n, D]``."""
        return paddle.gather(star, self.node_session)

    def attend(self, logits: paddle.Tensor, nodes: paddle.Tensor) -> paddle.Tensor:
        """``sum_i softmax_i(logits) nodes_i`` over each session's satellites:
        ``logits [n, 1]``, ``nodes [n, D]`` -> ``[B, D]``."""
        top = paddle.geometric.segment_max(logits.detach(), self.node_session)  # [B, 1]
        weights = paddle.exp(logits - paddle.gather(top, self.node_session))  # [n, 1]
        total = segment_sum(weights, self.node_session, self.n_sessions())  # [B, 1]
        return segment_sum(weights * nodes, self.node_session, self.n_sessions()) / total


class SGNNHN(SessionModel):
    """SGNN-HN. Options: ``embedding_dim`` ``D``, ``num_layers`` ``L`` (0 = the paper's 6),
    ``scale`` ``tau`` (0 = the paper's 12), ``max_length`` / ``session_max_length`` (the
    position embeddings, see the module docstring), ``init``, ``score_padding``;
    ``sparse_item_grad`` as in :class:`~srgnn_paddle.models.sequence.SessionModel`."""

    name = "sgnnhn"
    display_name = "SGNNHN"
    batch_layout = "session_graph"

    PAPER_LAYERS = 6
    PAPER_SCALE = 12.0

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        super().__init__(cfg, sparse_item_grad)
        d = self.embedding_dim
        self.num_layers = int(cfg.num_layers or self.PAPER_LAYERS)
        self.scale = float(cfg.scale or self.PAPER_SCALE)
        self.n_positions = max(int(cfg.max_length), int(cfg.session_max_length))
        self.position_emb = nn.Embedding(self.n_positions, d)
        self.gnn = GNN(d, step=1)  # the satellites' cell, once per layer
        self.w_q1 = Linear(d, d, bias_attr=False)  # the gate's query, on hat h_i
        self.w_k1 = Linear(d, d, bias_attr=False)  # the gate's key, on x_s
        self.w_q2 = Linear(d, d, bias_attr=False)  # the star attention's query, on x_s
        self.w_k2 = Linear(d, d, bias_attr=False)  # the star attention's key, on h_i
        self.w_g = Linear(2 * d, d)  # the highway gate, on [h^0; h^L]
        self.w_1 = Linear(d, d)  # on z_n (with the bias b)
        self.w_2 = Linear(d, d, bias_attr=False)  # on x_s
        self.w_3 = Linear(d, d, bias_attr=False)  # on every z_j
        self.w_0 = Linear(d, 1, bias_attr=False)
        self.w_4 = Linear(2 * d, d)  # [z_g; z_n] -> z_h
        self.normalize_items = NormalizedRows()
        initialise(self, cfg.init, d)

    def star_layers(self, graph: PackedGraph, star: StarGraph):
        """``(h^0 [n, D], h^L [n, D], x_s^L [B, D])``: the node states before and after the
        ``L`` layers of the star graph network, and the final star vectors."""
        adjacency = PackedAdjacency(graph)
        h0 = self.item_emb(as_tensor(graph.node_items))  # [n, D]
        root_d = math.sqrt(self.embedding_dim)
        hidden, x_s = h0, star.mean(h0)
        for _ in range(self.num_layers):
            hat = self.gnn.cell(adjacency, hidden)  # satellites from their neighbours
            x_s_nodes = star.broadcast(x_s)  # [n, D]
            alpha = F.sigmoid(paddle.sum(self.w_q1(hat) * star.broadcast(self.w_k1(x_s)), axis=-1,
                                         keepdim=True) / root_d)  # [n, 1]
            hidden = (1.0 - alpha) * hat + alpha * x_s_nodes
            logits = paddle.sum(self.w_k2(hidden) * star.broadcast(self.w_q2(x_s)), axis=-1, keepdim=True) / root_d
            x_s = star.attend(logits, hidden)  # [B, D]
        return h0, hidden, x_s

    def encode(self, batch: Batch) -> paddle.Tensor:
        """``tau * hat z_h``: ``[B, D]`` from the batch's packed session graphs (built here
        when the loader did not)."""
        graph = batch.graph if batch.graph is not None else build_packed_graph(batch.history)
        star = StarGraph(graph)
        h0, h_last, x_s = self.star_layers(graph, star)
        gate = F.sigmoid(self.w_g(paddle.concat([h0, h_last], axis=-1)))  # the highway network
        h_final = gate * h0 + (1.0 - gate) * h_last  # [n, D]
        history = PackedHistory(graph)
        position, last_entry = star.entries()
        z = history.positions(h_final) + self.position_emb(position.clip(max=self.n_positions - 1))  # [P, D]
        z_n = paddle.gather(z, last_entry)  # [B, D]
        z_g = history.soft_attention(self.w_1(z_n) + self.w_2(x_s), self.w_3(z), z, self.w_0)  # [B, D]
        z_h = self.w_4(paddle.concat([z_g, z_n], axis=-1))
        return self.scale * F.normalize(z_h, axis=-1)

    def item_embeddings(self) -> paddle.Tensor:
        """The L2-normalised item table ``[n_items, D]`` (a zero row stays zero)."""
        return self.normalize_items(self.item_emb.weight)
