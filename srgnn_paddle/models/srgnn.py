"""SR-GNN (Wu et al., "Session-based Recommendation with Graph Neural Networks", AAAI 2019):
the gated graph cell (``GNN``) and the session readout (``SRGNN``).

Each session is a graph of its distinct items with an edge for every transition; a gated
graph network (§4.2 of the paper) updates the node vectors ``step`` times; the session
vector combines the last item's node (local interest) with a soft-attention sum of all its
nodes (global interest, §4.3); items are scored by the inner product with the item table
and trained with the full softmax cross-entropy (§4.4).

Parameter names and shapes are the notebook's (``docs/notebook.md`` §4-5), so a notebook
checkpoint (``model.pdparams``) loads with ``set_state_dict`` and no renaming. The session
graph is built outside the model's math (:func:`srgnn_paddle.data.graph.build_session_graph`,
usually in the data loader); the model only consumes it. The notebook's call forms (``SRGNN(dict)``, ``model(item_seq, mask, item,
train=...)``, ``output_items()``) live in :mod:`srgnn_paddle.models.notebook`.

Host kernels (``kernels: host``): the ``Linear`` layers (``linear_edge_in``,
``linear_edge_out``, ``linear_one``, ``linear_two``, ``linear_three``,
``linear_transform``), the cell's ``w_ih`` / ``w_hh`` GEMMs (the kernels' ``linear`` on the
notebook's parameters, names and layout unchanged) and the softmax.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence, Union

import paddle
import paddle.nn.functional as F

from srgnn_paddle.config import Config
from srgnn_paddle.data.graph import PackedGraph, SessionGraph, build_packed_graph
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.kernels.linear import KernelLayer, Linear
from srgnn_paddle.models.layers import (PackedAdjacency, PackedHistory, TensorLike, as_tensor, initialise,
                                        last_position)
from srgnn_paddle.models.notebook import NotebookCalls, as_config
from srgnn_paddle.models.sequence import SessionModel


class GNN(paddle.nn.Layer, KernelLayer):
    """Gated graph neural network cell of SR-GNN, repeated ``step`` times with shared weights.

    Parameters (Paddle layout, ``Linear.weight`` is ``[in, out]``): ``w_ih [2D, 3D]``,
    ``w_hh [D, 3D]``, ``b_ih [3D]``, ``b_hh [3D]``, ``b_iah [D]``, ``b_ioh [D]``,
    ``linear_edge_in``, ``linear_edge_out`` (``D -> D``). The gate GEMMs ``x @ w_ih + b_ih``
    and ``h @ w_hh + b_hh`` run on the kernels' ``linear`` (:attr:`kernels`; plain Paddle
    outside a run's kernels block).
    """

    def __init__(self, embedding_size: int, step: int = 1) -> None:
        super().__init__()
        d = embedding_size
        self.step = step
        self.embedding_size = d
        # create_parameter without is_bias: Paddle's default (Xavier-uniform) initialiser,
        # as in the notebook.
        self.w_ih = self.create_parameter(shape=[2 * d, 3 * d])
        self.w_hh = self.create_parameter(shape=[d, 3 * d])
        self.b_ih = self.create_parameter(shape=[3 * d])
        self.b_hh = self.create_parameter(shape=[3 * d])
        self.b_iah = self.create_parameter(shape=[d])
        self.b_ioh = self.create_parameter(shape=[d])
        self.linear_edge_in = Linear(d, d)
        self.linear_edge_out = Linear(d, d)

    def cell(self, A: Union[paddle.Tensor, PackedAdjacency], hidden: paddle.Tensor) -> paddle.Tensor:
        """One propagation step.

        Args:
            A: ``[B, L, 2L]`` float32 adjacency (incoming half, then outgoing half), with
                ``hidden [B, L, D]``; or a :class:`PackedAdjacency`, with ``hidden [n, D]``.
            hidden: the node states.
        Returns:
            the updated node states (same shape), ``h = (1 - z) * h + z * n``.
        """
        h_in = self.linear_edge_in(hidden)
        h_out = self.linear_edge_out(hidden)
        if isinstance(A, PackedAdjacency):
            incoming, outgoing = paddle.split(A.propagate(paddle.concat([h_in, h_out], axis=0)), 2)  # [n, D] each
            inputs = paddle.concat([incoming + self.b_iah, outgoing + self.b_ioh], axis=1)  # [n, 2D]
        else:
            length = A.shape[1]
            input_in = paddle.matmul(A[:, :, :length], h_in) + self.b_iah
            input_out = paddle.matmul(A[:, :, length:], h_out) + self.b_ioh
            inputs = paddle.concat([input_in, input_out], axis=2)  # [B, L, 2D]
        gi = self._gemm(inputs, self.w_ih, self.b_ih)  # [..., 3D]
        gh = self._gemm(hidden, self.w_hh, self.b_hh)  # [..., 3D]
        i_r, i_i, i_n = paddle.chunk(gi, 3, axis=-1)
        h_r, h_i, h_n = paddle.chunk(gh, 3, axis=-1)
        reset_gate = F.sigmoid(i_r + h_r)
        input_gate = F.sigmoid(i_i + h_i)
        new_gate = paddle.tanh(i_n + reset_gate * h_n)
        return hidden + input_gate * (new_gate - hidden)

    def _gemm(self, x: paddle.Tensor, weight: paddle.Tensor, bias: paddle.Tensor) -> paddle.Tensor:
        """``x @ weight + bias`` on the run's kernels."""
        if self.kernels is None:
            return paddle.matmul(x, weight) + bias
        return self.kernels.linear(x, weight, bias)

    def forward(self, A: Union[paddle.Tensor, PackedAdjacency], hidden: paddle.Tensor) -> paddle.Tensor:
        """Apply :meth:`cell` ``step`` times (``A [B, L, 2L]`` with ``hidden [B, L, D]``, or a
        :class:`PackedAdjacency` with ``hidden [n, D]``)."""
        for _ in range(self.step):
            hidden = self.cell(A, hidden)
        return hidden


class SRGNN(NotebookCalls, SessionModel):
    """SR-GNN session encoder with the notebook's layer names.

    ``config`` is a :class:`~srgnn_paddle.config.Config`, or the notebook's dict (see
    :func:`~srgnn_paddle.models.notebook.as_config`); it needs ``n_items``; options
    ``embedding_dim`` (16), ``step`` (2), ``init`` (``notebook`` or ``uniform``),
    ``nonhybrid`` and ``score_padding`` (the notebook's defaults). ``sparse_item_grad`` as in
    :class:`~srgnn_paddle.models.sequence.SessionModel`.
    """

    name = "srgnn"
    display_name = "SRGNN"
    batch_layout = "session_graph"

    def __init__(self, config: Union[Config, Mapping[str, Any]], sparse_item_grad: bool = True) -> None:
        cfg = as_config(config)
        super().__init__(cfg, sparse_item_grad)
        d = self.embedding_dim
        self.nonhybrid = cfg.nonhybrid
        self.gnn = GNN(d, cfg.step)
        self.linear_one = Linear(d, d)
        self.linear_two = Linear(d, d)
        self.linear_three = Linear(d, 1, bias_attr=False)
        self.linear_transform = Linear(2 * d, d)
        initialise(self, cfg.init, d)

    def encode(self, batch: Batch) -> paddle.Tensor:
        """Session vectors ``[B, D]`` of a :class:`~srgnn_paddle.data.Batch` (its packed
        graph, built here from ``batch.history`` when the loader did not)."""
        graph = batch.graph if batch.graph is not None else build_packed_graph(batch.history)
        return self.encode_graph(graph)

    def encode_graph(self, graph: PackedGraph | SessionGraph | Sequence[TensorLike]) -> paddle.Tensor:
        """Session vectors from a precomputed graph.

        Args:
            graph: a :class:`~srgnn_paddle.data.graph.PackedGraph` (what the loaders build), or
                the notebook's layout ``(alias_inputs [B, L], A [B, L, 2L], items [B, L],
                mask [B, L])`` (see :func:`~srgnn_paddle.data.graph.build_session_graph`), as
                numpy arrays or Paddle tensors. Both give the same vectors.
        Returns:
            ``[B, D]`` float32 session embeddings.
        """
        if isinstance(graph, PackedGraph):
            return self._encode_packed(graph)
        alias, adjacency, items, mask = (as_tensor(x) for x in graph)
        mask = mask.astype("float32")  # the notebook multiplied an int32 mask: not here
        hidden = self.gnn(adjacency, self.item_emb(items))  # [B, L, D]
        batch, length = alias.shape
        seq_hidden = paddle.take_along_axis(
            hidden, alias.unsqueeze(-1).expand([batch, length, self.embedding_dim]), axis=1
        )  # [B, L, D]
        ht = last_position(seq_hidden, mask)  # [B, D]
        q1 = self.linear_one(ht).unsqueeze(1)  # [B, 1, D]
        q2 = self.linear_two(seq_hidden)  # [B, L, D]
        alpha = self.linear_three(F.sigmoid(q1 + q2))  # [B, L, 1]
        a = paddle.sum(alpha * seq_hidden * mask.unsqueeze(-1), axis=1)  # [B, D]
        return self._combine(a, ht)

    def _encode_packed(self, graph: PackedGraph) -> paddle.Tensor:
        """:meth:`encode_graph` on a packed graph: the same arithmetic on the real nodes
        (``n``) and history entries (``P``) only. Returns ``[B, D]``."""
        hidden = self.gnn(PackedAdjacency(graph), self.item_emb(as_tensor(graph.node_items)))  # [n, D]
        history = PackedHistory(graph)
        seq_hidden = history.positions(hidden)  # [P, D]
        ht = history.last(hidden)  # [B, D]
        a = history.soft_attention(self.linear_one(ht), self.linear_two(seq_hidden), seq_hidden,
                                   self.linear_three)  # [B, D]: sum over each session
        return self._combine(a, ht)

    def _combine(self, a: paddle.Tensor, ht: paddle.Tensor) -> paddle.Tensor:
        """The readout's last step: ``a`` alone (non-hybrid) or ``linear_transform([a, ht])``.
        ``[B, D], [B, D] -> [B, D]``."""
        if self.nonhybrid:
            return a
        return self.linear_transform(paddle.concat([a, ht], axis=1))  # [B, D]
