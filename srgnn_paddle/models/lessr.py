"""LESSR (Chen & Wong, "Handling Information Loss of Graph Neural Networks for Session-based
Recommendation", KDD 2020): edge-order-preserving aggregation (EOPA) on the session's EOP
multigraph, interleaved with shortcut graph attention (SGAT) on its shortcut graph, densely
connected, and an attention readout with the last item.

Both graphs are built in the data loader (:mod:`srgnn_paddle.data.lessr_graphs`, batch layout
``lessr_graphs``): nodes are each session's distinct items; the EOP multigraph (S2MG) has an
edge ``x_t -> x_{t+1}`` per transition with each node's in-edges ordered by time; the
shortcut graph (S2SG) an edge from every item to every item clicked after it, and self-loops.

The paper's equations (§4.3-4.5), in the form the official code computes them, for layer
``l`` with node vectors ``x_i^(l)``:

* EOPA (§4.3.1), over node ``i``'s in-edges ``(j_1, i), ..., (j_{d_i}, i)`` in time order::

      h_k = GRU(x_{j_k}, h_{k-1}),  h_0 = 0,   agg_i = h_{d_i}
      x_i^(l+1) = PReLU(W_self x_i^(l) + W_neigh agg_i)

  (the paper's ``W_upd (x_i || agg_i)`` written as two products; its message ``W_msg x_j`` is
  the GRU's own input projection, as in the official code);
* SGAT (§4.3.2), over node ``i``'s in-edges in the shortcut graph::

      e_ij = p^T sigmoid(W_q x_j + b_q + W_k x_i),  alpha_i = softmax_j(e_ij)
      x_i^(l+1) = PReLU(sum_j alpha_ij W_v x_j)

* layers alternate EOPA, SGAT, EOPA, ... (§4.3.3); with the dense connections each layer reads
  the concatenation of all earlier outputs and the item embeddings, ``[x^(l-1) || ... || x^(0)]``
  (so layer ``l`` reads ``(l + 1) D`` features and writes ``D``); every layer normalises its
  input with batch normalisation and drops features (``dropout``) before its products;
* readout (§4.4)::

      eps_i = q^T sigmoid(W_1 x_i + W_2 x_last + r),  beta = softmax_i(eps) over the session's nodes
      s_g = PReLU(W_out sum_i beta_i x_i),  s_l = x_last
      s_h = W_h BN([s_l || s_g])                        (dropout before W_h)

  with ``x_i`` the dense features of the last layer (batch-normalised, dropped) and ``x_last`` the
  node of the session's last item;
* prediction (§4.5): ``z_i = s_h^T v_i`` over the item table, softmax cross-entropy.

Where this implementation differs from the paper or the official code (twchen/lessr), and why:

* it follows the official code where the paper is silent or brief: the PReLU after every
  layer and after the readout, the readout's output product ``W_out`` (its input is the
  ``(L + 1) D`` dense features), batch normalisation and feature dropout before every layer,
  the readout and ``W_h`` (the node's own term of EOPA reads the normalised, undropped
  features), and SGAT's bias on the source's projection;

* the official code's item table is ``nn.Embedding(max_norm=1)``: every looked-up row is
  renormalised in place to norm at most 1 before use (scoring looks up the whole table). Here
  the table every path uses (:meth:`LESSR.item_embeddings`: the nodes, the scores, retrieval)
  is the parameter's rows projected onto the unit ball, ``v / max(1, ||v||)``, a pure function
  of the parameter: the same values, without a forward pass that changes a parameter; the
  gradient passes through the projection (``init: uniform`` starts every row at norm 1, where
  the two agree to first order). The lookups of the projected table are a dense ``gather``, so
  the item gradient is dense (``sparse_item_grad`` does not apply);
* the EOPA GRU runs batched over the nodes: every node's in-neighbours padded to the batch's
  largest in-degree and read by one ``nn.GRU`` with the in-degrees as sequence lengths; the
  official code lets DGL bucket nodes by in-degree. Same arithmetic;
* the official code trains with ``AdamW(weight_decay=1e-4)`` (decoupled, biases / batch norms /
  PReLUs excluded); the trainer here has Adam with coupled L2 only, which is a different and
  much stronger regulariser at 1e-4, so ``configs/paper_lessr.yaml`` sets ``weight_decay: 0``
  (a decoupled 1e-4 at lr 1e-3 shrinks the weights by 1e-7 a step);
* Paddle's batch normalisation keeps the biased batch variance as its running estimate
  (PyTorch keeps the unbiased one): evaluation-time statistics differ by a factor
  ``N / (N - 1)`` over a batch's ``N`` nodes;
* ``init``: ``uniform`` is the official code's initialisation (PyTorch's defaults: dense and
  GRU weights and biases uniform in ``+-1/sqrt(fan_in)``, item rows drawn from N(0, 1) then at
  norm 1, batch norms 1 / 0, PReLU slopes 0.25); ``notebook`` keeps Paddle's initialisers for
  the dense layers, the GRUs and the item table (batch norms and PReLUs as above).

Per-position vectors (``targets: all``): the graphs of a whole session would show position
``t`` the transition to its own target, so :meth:`encode_positions` is the contract's default
(each prefix encoded as a sample of its own), as for SR-GNN.
"""
from __future__ import annotations

import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from srgnn_paddle import compat
from srgnn_paddle.config import Config
from srgnn_paddle.data.lessr_graphs import LessrGraphs, build_lessr_graphs, with_in_row
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.kernels.linear import Linear
from srgnn_paddle.models.layers import as_tensor, n_rows, segment_softmax, segment_sum
from srgnn_paddle.models.sequence import SessionModel

PRELU_SLOPE = 0.25  # the initial negative slope of every PReLU (PyTorch's and Paddle's default)


class NodeBatchNorm(nn.Layer):
    """Batch normalisation of node features ``[n, C]`` over the batch's nodes (``nn.BatchNorm1D``'s
    arithmetic and state through ``F.batch_norm``, without the warning Paddle's layer prints on
    every training call): batch statistics in training, updating the running ones
    (``running = 0.9 running + 0.1 batch``, PyTorch's momentum 0.1), running statistics in evaluation."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = self.create_parameter([channels], default_initializer=nn.initializer.Constant(1.0))
        self.bias = self.create_parameter([channels], is_bias=True, default_initializer=nn.initializer.Constant(0.0))
        self.register_buffer("running_mean", paddle.zeros([channels]))
        self.register_buffer("running_var", paddle.ones([channels]))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """``[n, C] -> [n, C]``."""
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=self.training,
                            momentum=0.9, epsilon=1e-5)


class LessrTensors:
    """The :class:`~srgnn_paddle.data.lessr_graphs.LessrGraphs` of a batch as Paddle tensors
    (numpy arrays are given an in-neighbour row first when they have none,
    :func:`~srgnn_paddle.data.lessr_graphs.with_in_row`; tensors, e.g. the exported encoder's
    inputs, pass through and must already have one)."""

    def __init__(self, graphs: LessrGraphs) -> None:
        if isinstance(graphs.in_node, np.ndarray):
            graphs = with_in_row(graphs)
        self.node_items = as_tensor(graphs.node_items)  # [n]
        self.node_session = as_tensor(graphs.node_session)  # [n]
        self.last_node = as_tensor(graphs.last_node)  # [B]
        self.n_nodes = n_rows(self.node_items)
        self.n_sessions = n_rows(self.last_node)
        self.in_node = as_tensor(graphs.in_node)  # [m], m >= 1
        self.in_neighbours = as_tensor(graphs.in_neighbours)  # [m, K]
        self.in_degree = as_tensor(graphs.in_degree)  # [m]
        self.shortcut_src = as_tensor(graphs.shortcut_src)  # [S], S >= n (self-loops)
        self.shortcut_dst = as_tensor(graphs.shortcut_dst)  # [S], sorted


class EOPA(nn.Layer):
    """Edge-order-preserving aggregation: ``PReLU(W_self x_i + W_neigh GRU(x_{j_1}, ..., x_{j_d}))``
    over each node's in-neighbours in the EOP multigraph, in time order (``in_dim -> out_dim``;
    the GRU's state has ``in_dim`` features)."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float) -> None:
        super().__init__()
        self.batch_norm = NodeBatchNorm(in_dim)
        self.feat_drop = nn.Dropout(dropout)
        self.gru = nn.GRU(in_dim, in_dim)
        self.fc_self = Linear(in_dim, out_dim, bias_attr=False)
        self.fc_neigh = Linear(in_dim, out_dim, bias_attr=False)
        self.activation = nn.PReLU(out_dim, PRELU_SLOPE)

    def forward(self, graphs: LessrTensors, feat: paddle.Tensor) -> paddle.Tensor:
        """``feat [n, in_dim] -> [n, out_dim]``. A node without in-edges aggregates ``h_0 = 0``
        (its ``W_neigh`` term is 0; so does the in-degree-0 row of :func:`with_in_row`)."""
        feat = self.batch_norm(feat)
        out = self.fc_self(feat)  # the official code: the node's own features are not dropped
        messages = paddle.gather_nd(self.feat_drop(feat), graphs.in_neighbours.unsqueeze(-1))  # [m, K, in_dim]
        _, last = self.gru(messages, sequence_length=graphs.in_degree)  # [1, m, in_dim]: h_{d_i} (0 for d_i = 0)
        out = compat.index_add(out, graphs.in_node, 0, self.fc_neigh(last[0]))
        return self.activation(out)


class SGAT(nn.Layer):
    """Shortcut graph attention: ``PReLU(sum_j alpha_ij W_v x_j)`` over node ``i``'s in-edges in
    the shortcut graph, ``e_ij = p^T sigmoid(W_q x_j + b_q + W_k x_i)`` (``in_dim -> out_dim``,
    attention in ``hidden_dim``)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, dropout: float) -> None:
        super().__init__()
        self.batch_norm = NodeBatchNorm(in_dim)
        self.feat_drop = nn.Dropout(dropout)
        self.fc_q = Linear(in_dim, hidden_dim)  # on the source x_j, with the bias b_q
        self.fc_k = Linear(in_dim, hidden_dim, bias_attr=False)  # on the target x_i
        self.fc_v = Linear(in_dim, out_dim, bias_attr=False)
        self.fc_e = Linear(hidden_dim, 1, bias_attr=False)  # p
        self.activation = nn.PReLU(out_dim, PRELU_SLOPE)

    def forward(self, graphs: LessrTensors, feat: paddle.Tensor) -> paddle.Tensor:
        """``feat [n, in_dim] -> [n, out_dim]``."""
        feat = self.feat_drop(self.batch_norm(feat))
        src, dst = graphs.shortcut_src, graphs.shortcut_dst
        e = self.fc_e(F.sigmoid(paddle.gather(self.fc_q(feat), src) + paddle.gather(self.fc_k(feat), dst)))  # [S, 1]
        alpha = segment_softmax(e, dst, graphs.n_nodes)  # over each target's in-edges
        return self.activation(segment_sum(alpha * paddle.gather(self.fc_v(feat), src), dst, graphs.n_nodes))


class AttentionReadout(nn.Layer):
    """The session's global interest: ``PReLU(W_out sum_i beta_i x_i)``, ``beta`` the softmax over
    the session's nodes of ``q^T sigmoid(W_1 x_i + W_2 x_last + r)`` (``in_dim -> out_dim``)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, dropout: float) -> None:
        super().__init__()
        self.batch_norm = NodeBatchNorm(in_dim)
        self.feat_drop = nn.Dropout(dropout)
        self.fc_u = Linear(in_dim, hidden_dim, bias_attr=False)  # W_1, on every node
        self.fc_v = Linear(in_dim, hidden_dim)  # W_2 and r, on the last item's node
        self.fc_e = Linear(hidden_dim, 1, bias_attr=False)  # q
        self.fc_out = Linear(in_dim, out_dim, bias_attr=False)
        self.activation = nn.PReLU(out_dim, PRELU_SLOPE)

    def forward(self, graphs: LessrTensors, feat: paddle.Tensor) -> paddle.Tensor:
        """``feat [n, in_dim] -> [B, out_dim]``."""
        feat = self.feat_drop(self.batch_norm(feat))
        last = paddle.gather(self.fc_v(paddle.gather(feat, graphs.last_node)), graphs.node_session)  # [n, hidden]
        e = self.fc_e(F.sigmoid(self.fc_u(feat) + last))  # [n, 1]
        beta = segment_softmax(e, graphs.node_session, graphs.n_sessions)
        return self.activation(self.fc_out(segment_sum(feat * beta, graphs.node_session, graphs.n_sessions)))


class LESSR(SessionModel):
    """LESSR. Options: ``embedding_dim`` ``D``, ``num_layers`` (EOPA and SGAT layers,
    alternating from EOPA; 0 = the paper's 4 for DIGINETICA), ``dropout`` (the feature
    dropout before every layer, the readout and the last product; the paper's 0.2 in
    ``configs/paper_lessr.yaml``), ``init``, ``score_padding``.
    ``sparse_item_grad`` is accepted and has no effect (the item gradient is dense, see the
    module docstring)."""

    name = "lessr"
    display_name = "LESSR"
    batch_layout = "lessr_graphs"

    PAPER_LAYERS = 4  # DIGINETICA: the official code's suggested setting (its README)

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        super().__init__(cfg, sparse_item_grad=False)
        d = self.embedding_dim
        self.num_layers = int(cfg.num_layers or self.PAPER_LAYERS)
        dropout = float(cfg.dropout)
        self.layers = nn.LayerList()
        width = d  # the dense features: every earlier output and the embeddings
        for index in range(self.num_layers):
            self.layers.append(EOPA(width, d, dropout) if index % 2 == 0 else SGAT(width, d, d, dropout))
            width += d
        self.readout = AttentionReadout(width, d, d, dropout)
        self.batch_norm = NodeBatchNorm(width + d)  # on [s_l || s_g]
        self.feat_drop = nn.Dropout(dropout)
        self.fc_sr = Linear(width + d, d, bias_attr=False)  # W_h
        if cfg.init == "uniform":
            self._official_init()

    def item_embeddings(self) -> paddle.Tensor:
        """The item table ``[n_items, D]``: the parameter's rows projected onto the unit ball
        (``v / max(1, ||v||)``, the official code's ``max_norm=1``)."""
        table = self.item_emb.weight
        squares = paddle.sum(table * table, axis=1, keepdim=True)
        return table * paddle.rsqrt(squares.clip(min=1.0))

    def encode(self, batch: Batch) -> paddle.Tensor:
        """Session vectors ``s_h`` ``[B, D]`` from the batch's LESSR graphs (built here from
        ``batch.history`` when the loader did not)."""
        graphs = LessrTensors(batch.graph if isinstance(batch.graph, LessrGraphs)
                              else build_lessr_graphs(batch.history))
        feat = paddle.gather(self.item_embeddings(), graphs.node_items)  # x^(0): [n, D]
        for layer in self.layers:
            feat = paddle.concat([layer(graphs, feat), feat], axis=1)  # dense connections
        s_l = paddle.gather(feat, graphs.last_node)  # [B, width]
        s_g = self.readout(graphs, feat)  # [B, D]
        return self.fc_sr(self.feat_drop(self.batch_norm(paddle.concat([s_l, s_g], axis=1))))

    def _official_init(self) -> None:
        """The official code's initialisation (PyTorch's defaults, see the module docstring)."""
        for layer in self.sublayers():
            if isinstance(layer, Linear):
                bound = 1.0 / math.sqrt(layer.weight.shape[0])  # Paddle's weight is [in, out]
                for param in (layer.weight, layer.bias):
                    if param is not None:
                        param.set_value(paddle.uniform(param.shape, dtype=param.dtype, min=-bound, max=bound))
            elif isinstance(layer, nn.GRU):
                bound = 1.0 / math.sqrt(layer.hidden_size)
                for param in layer.parameters():
                    param.set_value(paddle.uniform(param.shape, dtype=param.dtype, min=-bound, max=bound))
        rows = paddle.randn(self.item_emb.weight.shape)
        self.item_emb.weight.set_value(rows / paddle.linalg.norm(rows, axis=1, keepdim=True).clip(min=1e-12))

