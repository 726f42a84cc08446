"""GGNNwATT, the course report's second variant (``/work/shared/spec/course_report.md``):
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
import paddle.nn as nn
import paddle.nn.functional as F

from srgnn_paddle.config import Config
from srgnn_paddle.data.graph import build_packed_graph
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.models.base import Recommender
from srgnn_paddle.models.sequence import check_catalogue, initialise
from srgnn_paddle.models.srgnn import GNN, PackedAdjacency, segment_sum


class GGNNwATT(Recommender):
    """GGNNwATT. Options: ``embedding_dim`` ``D``, ``step`` (propagation rounds),
    ``dropout`` (on the embeddings), ``init``, ``score_padding``; ``sparse_item_grad`` as in
    :class:`~srgnn_paddle.models.srgnn.SRGNN`."""

    name = "ggnnwatt"
    display_name = "GGNNwATT"
    batch_layout = "session_graph"
    inner_product = True

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        super().__init__()
        self.n_items = check_catalogue(cfg, self.name)
        self.embedding_dim = d = cfg.embedding_dim
        self.score_padding = cfg.score_padding
        self.item_emb = nn.Embedding(self.n_items, d, padding_idx=0, sparse=sparse_item_grad)
        self.emb_dropout = nn.Dropout(cfg.dropout)
        self.gnn = GNN(d, cfg.step)
        self.a_1 = nn.Linear(d, d, bias_attr=False)  # A1, on the query s_t
        self.a_2 = nn.Linear(d, d, bias_attr=False)  # A2, on every position's node s_j
        self.v = nn.Linear(d, 1, bias_attr=False)
        self.feed_forward = nn.Linear(2 * d, d)  # [c; s_t] -> D
        initialise(self, cfg)

    def encode(self, batch: Batch) -> paddle.Tensor:
        """``[B, D]`` from the batch's packed session graphs (built here when the loader did not)."""
        graph = batch.graph if batch.graph is not None else build_packed_graph(batch.history)
        nodes = self.gnn(PackedAdjacency(graph), self.emb_dropout(self.item_emb(paddle.to_tensor(graph.node_items))))
        session = paddle.to_tensor(graph.pos_session)  # [P]
        s = paddle.gather(nodes, paddle.to_tensor(graph.pos_node))  # [P, D]: node of each history entry
        s_t = paddle.gather(nodes, paddle.to_tensor(graph.last_node))  # [B, D]
        alpha = self.v(F.sigmoid(paddle.gather(self.a_1(s_t), session) + self.a_2(s)))  # [P, 1]
        c = segment_sum(alpha * s, session, len(graph.last_node))  # [B, D]
        return self.feed_forward(paddle.concat([c, s_t], axis=-1))

    def item_embeddings(self) -> paddle.Tensor:
        """The item table ``[n_items, D]`` (row 0 = padding)."""
        return self.item_emb.weight
