"""SR-GNN (Wu et al., "Session-based Recommendation with Graph Neural Networks", AAAI 2019):
the gated graph cell (``GNN``) and the session readout (``SRGNN``).

Each session is a graph of its distinct items with an edge for every transition; a gated
graph network (§4.2 of the paper) updates the node vectors ``step`` times; the session
vector combines the last item's node (local interest) with a soft-attention sum of all its
nodes (global interest, §4.3); items are scored by the inner product with the item table
and trained with the full softmax cross-entropy (§4.4).

Parameter names and shapes are the notebook's (spec ``notebook.md`` §4-5), so a notebook
checkpoint (``model.pdparams``) loads with ``set_state_dict`` and no renaming. The session
graph is built outside the model's math (:func:`srgnn_paddle.data.graph.build_session_graph`,
usually in the data loader); the model only consumes it.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from srgnn_paddle.config import Config
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.data.graph import PackedGraph, SessionGraph, build_packed_graph, build_session_graph
from srgnn_paddle.models.base import Recommender, softmax_cross_entropy

TensorLike = Union[paddle.Tensor, np.ndarray]


class GNN(nn.Layer):
    """Gated graph neural network cell of SR-GNN, repeated ``step`` times with shared weights.

    Parameters (Paddle layout, ``Linear.weight`` is ``[in, out]``): ``w_ih [2D, 3D]``,
    ``w_hh [D, 3D]``, ``b_ih [3D]``, ``b_hh [3D]``, ``b_iah [D]``, ``b_ioh [D]``,
    ``linear_edge_in``, ``linear_edge_out`` (``D -> D``).
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
        self.linear_edge_in = nn.Linear(d, d)
        self.linear_edge_out = nn.Linear(d, d)

    def cell(self, A: Union[paddle.Tensor, "PackedAdjacency"], hidden: paddle.Tensor) -> paddle.Tensor:
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
            messages = A.propagate(paddle.concat([h_in, h_out], axis=0))  # [2n, D]
            n = hidden.shape[0]
            inputs = paddle.concat([messages[:n] + self.b_iah, messages[n:] + self.b_ioh], axis=1)  # [n, 2D]
        else:
            length = A.shape[1]
            input_in = paddle.matmul(A[:, :, :length], h_in) + self.b_iah
            input_out = paddle.matmul(A[:, :, length:], h_out) + self.b_ioh
            inputs = paddle.concat([input_in, input_out], axis=2)  # [B, L, 2D]
        gi = paddle.matmul(inputs, self.w_ih) + self.b_ih  # [..., 3D]
        gh = paddle.matmul(hidden, self.w_hh) + self.b_hh  # [..., 3D]
        i_r, i_i, i_n = paddle.chunk(gi, 3, axis=-1)
        h_r, h_i, h_n = paddle.chunk(gh, 3, axis=-1)
        reset_gate = F.sigmoid(i_r + h_r)
        input_gate = F.sigmoid(i_i + h_i)
        new_gate = paddle.tanh(i_n + reset_gate * h_n)
        return hidden + input_gate * (new_gate - hidden)

    def forward(self, A: Union[paddle.Tensor, "PackedAdjacency"], hidden: paddle.Tensor) -> paddle.Tensor:
        """Apply :meth:`cell` ``step`` times (``A [B, L, 2L]`` with ``hidden [B, L, D]``, or a
        :class:`PackedAdjacency` with ``hidden [n, D]``)."""
        for _ in range(self.step):
            hidden = self.cell(A, hidden)
        return hidden


class PackedAdjacency:
    """The propagation matrix of a :class:`~srgnn_paddle.data.graph.PackedGraph` as Paddle tensors.

    ``propagate(x)`` is ``M @ x`` for ``x [2n, D]`` (rows ``< n``: incoming messages, the
    rest outgoing), as a gather of the edges' source rows, scaled by the edge weights, and
    an ``index_add`` into their target rows: plain Paddle ops with gradients, on any device.
    """

    def __init__(self, graph: PackedGraph) -> None:
        self.rows = _to_tensor(graph.edge_rows)  # [E]
        self.cols = _to_tensor(graph.edge_cols)  # [E]
        self.weights = _to_tensor(graph.edge_weights).reshape([-1, 1])  # [E, 1]

    def propagate(self, x: paddle.Tensor) -> paddle.Tensor:
        """``[2n, D] -> [2n, D]``."""
        return segment_sum(paddle.gather(x, self.cols) * self.weights, self.rows, len(x))


class SRGNN(Recommender):
    """SR-GNN session encoder with the notebook's layer names.

    ``config`` is a :class:`~srgnn_paddle.config.Config` or a dict with at least
    ``n_items``; optional ``embedding_dim`` (default 16), ``step`` (2), ``init``
    (``notebook`` or ``uniform``), ``nonhybrid`` and ``score_padding`` (the notebook's
    defaults, see :class:`~srgnn_paddle.config.Config`).

    ``sparse_item_grad``: the item lookup's gradient holds only the batch's rows (Paddle
    adds them into the dense gradient of the full softmax) instead of a zeroed
    ``[n_items, D]`` copy per step. ``paddle.DataParallel`` does not accept a sparse
    gradient on a table that is also used densely, so data-parallel training passes
    ``False``. Either way the gradient reaching the optimiser is the same dense tensor.
    """

    name = "srgnn"
    display_name = "SRGNN"
    batch_layout = "session_graph"
    inner_product = True

    def __init__(self, config: Union[Config, Mapping[str, Any]], sparse_item_grad: bool = True) -> None:
        super().__init__()
        cfg = _model_options(config)
        self.n_items = cfg["n_items"]
        self.embedding_dim = cfg["embedding_dim"]
        self.nonhybrid = cfg["nonhybrid"]
        self.score_padding = cfg["score_padding"]
        d = self.embedding_dim
        self.item_emb = nn.Embedding(self.n_items, d, padding_idx=0, sparse=sparse_item_grad)
        self.gnn = GNN(d, cfg["step"])
        self.linear_one = nn.Linear(d, d)
        self.linear_two = nn.Linear(d, d)
        self.linear_three = nn.Linear(d, 1, bias_attr=False)
        self.linear_transform = nn.Linear(2 * d, d)
        if cfg["init"] == "uniform":
            self.reset_parameters_uniform()

    def reset_parameters_uniform(self) -> None:
        """The paper's initialisation: every parameter uniform in ``[-1/sqrt(D), 1/sqrt(D)]``."""
        bound = 1.0 / math.sqrt(self.embedding_dim)
        for param in self.parameters():
            param.set_value(
                paddle.uniform(param.shape, dtype=param.dtype, min=-bound, max=bound)
            )

    # ------------------------------------------------------------------ the contract
    def encode(self, batch: Batch) -> paddle.Tensor:
        """Session vectors ``[B, D]`` of a :class:`~srgnn_paddle.data.Batch` (its packed
        graph, built here from ``batch.history`` when the loader did not)."""
        graph = batch.graph if batch.graph is not None else build_packed_graph(batch.history)
        return self.encode_graph(graph)

    def item_embeddings(self) -> paddle.Tensor:
        """The item table ``[n_items, D]`` (row 0 = padding)."""
        return self.item_emb.weight

    # ------------------------------------------------------------------ the graph readout
    def encode_graph(self, graph: PackedGraph | SessionGraph | Sequence[TensorLike]) -> paddle.Tensor:
        """Session vectors from a precomputed graph.

        Args:
            graph: a :class:`~srgnn_paddle.data.graph.PackedGraph` (what the loaders build), or
                the notebook's layout ``(alias_inputs [B, L], A [B, L, 2L], items [B, L],
                mask [B, L])`` (see :func:`build_session_graph`), as numpy arrays or Paddle
                tensors. Both give the same vectors.
        Returns:
            ``[B, D]`` float32 session embeddings.
        """
        if isinstance(graph, PackedGraph):
            return self._encode_packed(graph)
        alias, adjacency, items, mask = (_to_tensor(x) for x in graph)
        mask = mask.astype("float32")  # the notebook multiplied an int32 mask: not here
        hidden = self.gnn(adjacency, self.item_emb(items))  # [B, L, D]
        batch, length = alias.shape
        d = self.embedding_dim
        seq_hidden = paddle.take_along_axis(
            hidden, alias.unsqueeze(-1).expand([batch, length, d]), axis=1
        )  # [B, L, D]
        last = (mask.sum(axis=1) - 1).astype("int64").clip(min=0)  # [B]
        ht = paddle.take_along_axis(
            seq_hidden, last.reshape([batch, 1, 1]).expand([batch, 1, d]), axis=1
        ).squeeze(1)  # [B, D]
        q1 = self.linear_one(ht).unsqueeze(1)  # [B, 1, D]
        q2 = self.linear_two(seq_hidden)  # [B, L, D]
        alpha = self.linear_three(F.sigmoid(q1 + q2))  # [B, L, 1]
        a = paddle.sum(alpha * seq_hidden * mask.unsqueeze(-1), axis=1)  # [B, D]
        return self._combine(a, ht)

    def _encode_packed(self, graph: PackedGraph) -> paddle.Tensor:
        """:meth:`encode_graph` on a packed graph: the same arithmetic on the real nodes
        (``n``) and history entries (``P``) only. Returns ``[B, D]``."""
        hidden = self.gnn(PackedAdjacency(graph), self.item_emb(_to_tensor(graph.node_items)))  # [n, D]
        pos_session = _to_tensor(graph.pos_session)
        seq_hidden = paddle.gather(hidden, _to_tensor(graph.pos_node))  # [P, D]
        ht = paddle.gather(hidden, _to_tensor(graph.last_node))  # [B, D]
        q1 = self.linear_one(ht)  # [B, D]
        q2 = self.linear_two(seq_hidden)  # [P, D]
        alpha = self.linear_three(F.sigmoid(paddle.gather(q1, pos_session) + q2))  # [P, 1]
        a = segment_sum(alpha * seq_hidden, pos_session, len(graph.last_node))  # [B, D]: sum over each session
        return self._combine(a, ht)

    def _combine(self, a: paddle.Tensor, ht: paddle.Tensor) -> paddle.Tensor:
        """The readout's last step: ``a`` alone (non-hybrid) or ``linear_transform([a, ht])``.
        ``[B, D], [B, D] -> [B, D]``."""
        if self.nonhybrid:
            return a
        return self.linear_transform(paddle.concat([a, ht], axis=1))  # [B, D]

    # ------------------------------------------------------------------ the notebook's interface
    def forward(
        self,
        item_seq: Optional[TensorLike],
        mask: Optional[TensorLike] = None,
        item: Optional[TensorLike] = None,
        train: bool = True,
        graph: Optional[SessionGraph | Sequence[TensorLike]] = None,
    ) -> Dict[str, paddle.Tensor]:
        """The notebook's call form ``model(item_seq, mask, item, train=...)``.

        Args:
            item_seq: ``[B, L]`` padded histories (ignored when ``graph`` is given).
            mask: ``[B, L]`` 1 on real items (any dtype); defaults to ``item_seq > 0``; used
                only when the graph is built here from ``item_seq``.
            item: ``[B]`` or ``[B, 1]`` target ids, needed when ``train``.
            train: compute the loss too (plain Paddle full-softmax cross-entropy).
            graph: a precomputed :class:`~srgnn_paddle.data.graph.PackedGraph` or
                :class:`SessionGraph` (e.g. built in the data loader).
        Returns:
            ``{'user_emb': [B, D]}`` plus ``'loss'`` (scalar) when ``train``.
        """
        if graph is None:
            seq = item_seq.numpy() if isinstance(item_seq, paddle.Tensor) else np.asarray(item_seq)
            graph = build_session_graph(seq)
            if mask is not None:
                graph = graph._replace(mask=mask)
        user_emb = self.encode_graph(graph)
        out = {"user_emb": user_emb}
        if train:
            if item is None:
                raise ValueError("SRGNN.forward(train=True) needs the target 'item'")
            target = _to_tensor(item).astype("int64").reshape([-1])
            out["loss"] = softmax_cross_entropy(user_emb, self.item_emb.weight, target, not self.score_padding)
        return out

    def output_items(self) -> paddle.Tensor:
        """The notebook's name for :meth:`item_embeddings`: ``[n_items, D]``, row 0 padding."""
        return self.item_embeddings()


def segment_sum(values: paddle.Tensor, index: paddle.Tensor, n: int) -> paddle.Tensor:
    """``out[i] = sum of values[j] with index[j] == i``: ``[E, D]``, ``[E]`` -> ``[n, D]``."""
    zeros = paddle.zeros([n, values.shape[1]], dtype=values.dtype)
    return paddle.index_add(zeros, index, 0, values)


def _model_options(config: Union[Config, Mapping[str, Any]]) -> Dict[str, Any]:
    """Read the model's options from a Config or a notebook-style dict (keys it lacks take
    :class:`~srgnn_paddle.config.Config`'s defaults, i.e. the notebook's: D 16, step 2)."""
    if isinstance(config, Config):
        get = lambda k: getattr(config, k)  # noqa: E731
    else:
        defaults = Config()
        get = lambda k: config.get(k, getattr(defaults, k))  # noqa: E731
    opts = {
        "n_items": int(get("n_items") or 0),
        "embedding_dim": int(get("embedding_dim")),
        "step": int(get("step")),
        "init": get("init"),
        "nonhybrid": bool(get("nonhybrid")),
        "score_padding": bool(get("score_padding")),
    }
    if opts["n_items"] < 2:
        raise ValueError(f"SRGNN needs n_items >= 2 (ids 1..n_items-1, 0 = padding), got {opts['n_items']}")
    if opts["init"] not in ("notebook", "uniform"):
        raise ValueError(f"init must be 'notebook' or 'uniform', got {opts['init']!r}")
    return opts


def _to_tensor(x: TensorLike) -> paddle.Tensor:
    """Numpy array -> Paddle tensor on the current device; tensors (and the static graph's
    values under ``paddle.jit.to_static``, see :mod:`srgnn_paddle.serving`) pass through."""
    return paddle.to_tensor(x) if isinstance(x, (np.ndarray, list, tuple)) else x
