"""GGNNwATT, the course report's second variant (docs/session_models.md):
GRUwATT's attention and feed-forward layer on top of SR-GNN's gated graph network
instead of a GRU.

The session graph's node vectors after ``step`` rounds of the gated graph cell
(:class:`~srgnn_paddle.models.srgnn.GNN`, reused) are gathered back to the history's
positions (``s_1..s_L``, by the node of each entry); the last position's context is
``c = sum_j a_j s_j`` with ``a_j = v^T sigmoid(A1 s_t + A2 s_j)``, and ``[c; s_t]`` goes
through the feed-forward layer to ``D``. For the last target this is SR-GNN's readout
(Wu et al. §4.3) without the attention bias.

Per-position vectors (``targets: all``): a node's vector after propagation depends on
the whole session graph, including the transition from position ``t`` to ``t + 1``,
i.e. on position ``t``'s own target. So :meth:`encode_positions` is the contract's default,
one graph per prefix (exactly the prefix's session vector), which costs what prefix
augmentation costs; the full session's graph would let every position see its answer.
"""
from __future__ import annotations

import paddle

from srgnn_paddle.config import Config
from srgnn_paddle.data.graph import build_packed_graph
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.kernels.linear import Linear
from srgnn_paddle.models.layers import PackedAdjacency, PackedHistory, as_tensor, initialise
from srgnn_paddle.models.sequence import SessionModel
from srgnn_paddle.models.srgnn import GNN


class GGNNwATT(SessionModel):
    """GGNNwATT. Options: ``embedding_dim`` ``D``, ``step`` (propagation rounds),
    ``dropout`` (on the embeddings), ``init``, ``score_padding``; ``sparse_item_grad`` as in
    :class:`~srgnn_paddle.models.sequence.SessionModel`."""

    name = "ggnnwatt"
    display_name = "GGNNwATT"
    batch_layout = "session_graph"

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        super().__init__(cfg, sparse_item_grad, dropout=cfg.dropout)
        d = self.embedding_dim
        self.gnn = GNN(d, cfg.step)
        self.a_1 = Linear(d, d, bias_attr=False)  # A1, on the query s_t
        self.a_2 = Linear(d, d, bias_attr=False)  # A2, on every position's node s_j
        self.v = Linear(d, 1, bias_attr=False)
        self.feed_forward = Linear(2 * d, d)  # [c; s_t] -> D
        initialise(self, cfg.init, cfg.embedding_dim)

    def encode(self, batch: Batch) -> paddle.Tensor:
        """``[B, D]`` from the batch's packed session graphs (built here when the loader did not)."""
        graph = batch.graph if batch.graph is not None else build_packed_graph(batch.history)
        nodes = self.gnn(PackedAdjacency(graph), self.emb_dropout(self.item_emb(as_tensor(graph.node_items))))
        history = PackedHistory(graph)
        s = history.positions(nodes)  # [P, D]: node of each history entry
        s_t = history.last(nodes)  # [B, D]
        c = history.soft_attention(self.a_1(s_t), self.a_2(s), s, self.v)  # [B, D]
        return self.feed_forward(paddle.concat([c, s_t], axis=-1))
