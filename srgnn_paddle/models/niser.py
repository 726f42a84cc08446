"""NISER+ (Gupta et al., "NISER: Normalized Item and Session Representations to Handle
Popularity Bias", CIKM 2019 GRLA workshop): SR-GNN with L2-normalised item and session
vectors, a scaled cosine as the score, position embeddings and dropout.

In the paper's notation, for a session ``s`` with items ``i_{s,1} .. i_{s,l}``:

* the items enter normalised: ``~i_k = i_k / ||i_k||`` (NISER+: after dropout on ``i_k``);
* SR-GNN's gated graph network (:class:`~srgnn_paddle.models.srgnn.GNN`, reused) updates the
  session graph's nodes from ``~i``; NISER+ adds a learned position vector ``p_j`` to the
  node of the ``j``-th entry (``j`` counted from the session's first item);
* SR-GNN's readout (§4.3 of Wu et al.: ``s_l`` = the last entry, ``alpha_j = q^T sigmoid(W_1
  s_l + W_2 v_j + c)``, ``s_g = sum_j alpha_j v_j``, ``s_h = W_3 [s_l; s_g]``) gives ``s``,
  normalised: ``~s = s / ||s||``;
* item ``k`` scores ``z_k = sigma * ~s^T ~i_k`` and the loss is the softmax cross-entropy of
  ``z``; ``sigma`` (config ``scale``, 0 = the paper's 16) keeps the softmax of cosines in
  ``[-1, 1]`` from being nearly uniform.

The model stays an inner-product one: :meth:`NISER.item_embeddings` is the normalised table
``~i`` (row 0, the padding, is the zero vector and gets no gradient) and :meth:`NISER.encode` is ``sigma * ~s``,
so the full softmax, the rank counting, Faiss retrieval and ``export`` apply unchanged (Faiss
indexes the unit item vectors; the scores are ``sigma`` times cosines).

Where this differs from the paper / the official code: the paper gives no position count;
``max_positions`` (0 = 50) positions are learned and the later ones share the last (DIGINETICA
sessions are at most 70 items long; RecBole-GNN instead keeps the last 20 items). The
position vectors are added after the graph network, before the readout, and dropout comes
before the normalisation of the items, as RecBole-GNN's NISER+ does (the paper does not say
where). Graphs: like SR-GNN's, built by the loader (``session_graph``, packed); per-position
vectors (``targets: all``) are one graph per prefix (the contract's default), because a
node's vector depends on the transition out of it (see ``ggnnwatt``). Only the packed graph
is read, so ``export --format onnx`` is refused (paddle2onnx cannot convert its segment sums).
"""
from __future__ import annotations

import paddle
import paddle.nn.functional as F

from srgnn_paddle.config import Config
from srgnn_paddle.data.graph import build_packed_graph
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.kernels.linear import Linear, NormalizedRows
from srgnn_paddle.models.layers import PackedAdjacency, PackedHistory, PositionEmbedding, as_tensor, initialise
from srgnn_paddle.models.sequence import SessionModel
from srgnn_paddle.models.srgnn import GNN

PAPER_SCALE = 16.0  # sigma, NISER §3
DEFAULT_POSITIONS = 50  # position vectors learned (config max_positions = 0)


class NISER(SessionModel):
    """NISER+. Options: ``embedding_dim`` ``D``, ``step`` (propagation rounds), ``scale``
    (``sigma``, 0 = 16), ``dropout`` (on the item embeddings, the paper's 0.1),
    ``max_positions`` (0 = 50), ``init``, ``score_padding``; ``sparse_item_grad`` as in
    :class:`~srgnn_paddle.models.sequence.SessionModel`. The readout's layers carry SR-GNN's
    names (``linear_one``, ``linear_two``, ``linear_three``, ``linear_transform``)."""

    name = "niser"
    display_name = "NISER"
    batch_layout = "session_graph"

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        super().__init__(cfg, sparse_item_grad, dropout=cfg.dropout)  # item_emb, emb_dropout
        d = self.embedding_dim
        self.scale = float(cfg.scale or PAPER_SCALE)
        self.gnn = GNN(d, cfg.step)
        self.position_emb = PositionEmbedding(cfg.max_positions or DEFAULT_POSITIONS, d)  # p_j
        self.linear_one = Linear(d, d)  # W_1, on s_l
        self.linear_two = Linear(d, d)  # W_2, on every v_j
        self.linear_three = Linear(d, 1, bias_attr=False)  # q
        self.linear_transform = Linear(2 * d, d)  # W_3
        self.normalize_items = NormalizedRows(zero_first=True)  # ~i, the padding row 0
        initialise(self, cfg.init, d)

    def item_embeddings(self) -> paddle.Tensor:
        """The normalised item table ``~i``: ``[n_items, D]``, unit rows; row 0 (the padding)
        the zero vector, with no gradient. Normalised at every step, on the kernels'
        ``normalize_rows`` (:class:`~srgnn_paddle.kernels.linear.NormalizedRows`: numpy with
        the host kernels, whose forward and backward over DIGINETICA's table take a fraction
        of Paddle's CPU elementwise ops)."""
        return self.normalize_items(self.item_emb.weight)

    def encode(self, batch: Batch) -> paddle.Tensor:
        """``sigma * ~s``: ``[B, D]``, every row of norm ``sigma``, from the batch's packed
        session graphs (built here when the loader did not)."""
        graph = batch.graph if batch.graph is not None else build_packed_graph(batch.history)
        items = F.normalize(self.emb_dropout(self.item_emb(as_tensor(graph.node_items))), axis=-1)  # [n, D]
        nodes = self.gnn(PackedAdjacency(graph), items)  # [n, D]
        history = PackedHistory(graph)
        v = history.positions(nodes) + self.position_emb(history.entry_positions())  # [P, D]
        s_l = history.last_entry(v)  # [B, D]
        s_g = history.soft_attention(self.linear_one(s_l), self.linear_two(v), v, self.linear_three)  # [B, D]
        s = self.linear_transform(paddle.concat([s_g, s_l], axis=-1))
        return self.scale * F.normalize(s, axis=-1)
