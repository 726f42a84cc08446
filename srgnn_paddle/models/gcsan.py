"""GC-SAN (Xu et al., "Graph Contextualized Self-Attention Network for Session-based
Recommendation", IJCAI 2019): SR-GNN's gated graph network, then self-attention over the
session's entries.

In the paper's notation, for a session ``s = [s_1, .., s_n]``:

* §3.2: SR-GNN's gated graph network (:class:`~srgnn_paddle.models.srgnn.GNN`, reused) gives
  the node vectors; ``H = [h_1, .., h_n]`` are those of the session's entries, in order
  (a repeated item's node appears at each of its positions);
* §3.3: ``k`` self-attention blocks (config ``num_layers``, 0 = 1): ``F = softmax((H W^Q)(H
  W^K)^T / sqrt(d)) (H W^V)``, the point-wise feed-forward network ``E = ReLU(F W_1 + b_1) W_2
  + b_2 + F``, with residual connections, layer normalisation and dropout
  (:class:`~srgnn_paddle.models.layers.SelfAttentionBlock`, shared with SASRec), ``E^(1) =
  E``, ``E^(k) = SAN(E^(k-1))``; heads: config ``num_heads`` (0 = the paper's single head);
* §3.4: the session vector ``S_f = omega E^(k)_n + (1 - omega) h_n`` (config
  ``gcsan_weight``, default 0.6), item ``i`` scores ``S_f^T v_i`` (``v_i`` its embedding),
  trained with the softmax cross-entropy.

Where this differs from the paper / the reference code: the attention block is SASRec's, as
its official code computes it (the query is the layer-normalised input, keys and values the
input itself, the residual adds the normalised input; see
:class:`~srgnn_paddle.models.layers.SelfAttentionBlock`), with an output projection joining
the heads. The attention is over the whole session (the paper's equations); RecBole-GNN's
GC-SAN adds a left-to-right mask, which changes nothing with one block (only the last
position is read) and differs from ``k >= 2``. RecBole-GNN's Transformer layer (GELU, a
256-wide feed-forward layer, an L2 term on the item table only) is not used here: the
feed-forward layer is ``D`` wide with ReLU, and L2 is ``weight_decay`` on every parameter.
Per-position vectors (``targets: all``): one graph per prefix (the contract's default), as
for SR-GNN. Only the packed graph is read, so ``export --format onnx`` is refused.
"""
from __future__ import annotations

import paddle
import paddle.nn as nn

from srgnn_paddle.config import Config
from srgnn_paddle.data.graph import build_packed_graph
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.models.layers import (PackedAdjacency, PackedHistory, SelfAttentionBlock, as_tensor, initialise,
                                        last_position)
from srgnn_paddle.models.sequence import SessionModel
from srgnn_paddle.models.srgnn import GNN

PAPER_LAYERS = 1  # k
PAPER_HEADS = 1


class GCSAN(SessionModel):
    """GC-SAN. Options: ``embedding_dim`` ``D``, ``step`` (propagation rounds), ``num_layers``
    (``k``, 0 = 1), ``num_heads`` (0 = 1), ``dropout`` (in the attention blocks),
    ``gcsan_weight`` (``omega``), ``init``, ``score_padding``; ``sparse_item_grad`` as in
    :class:`~srgnn_paddle.models.sequence.SessionModel`."""

    name = "gcsan"
    display_name = "GCSAN"
    batch_layout = "session_graph"

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        super().__init__(cfg, sparse_item_grad)
        d = self.embedding_dim
        self.weight = float(cfg.gcsan_weight)  # omega
        self.gnn = GNN(d, cfg.step)
        self.blocks = nn.LayerList([SelfAttentionBlock(d, cfg.num_heads or PAPER_HEADS, cfg.dropout, causal=False)
                                    for _ in range(cfg.num_layers or PAPER_LAYERS)])
        initialise(self, cfg.init, d)

    def encode(self, batch: Batch) -> paddle.Tensor:
        """``S_f``: ``[B, D]``, from the batch's packed session graphs (built here when the
        loader did not)."""
        graph = batch.graph if batch.graph is not None else build_packed_graph(batch.history)
        nodes = self.gnn(PackedAdjacency(graph), self.item_emb(as_tensor(graph.node_items)))  # [n, D]
        history = PackedHistory(graph)
        e, mask = history.padded(history.positions(nodes))  # H: [B, L, D], [B, L]
        for block in self.blocks:
            e = block(e, mask)
        return self.weight * last_position(e, mask) + (1.0 - self.weight) * history.last(nodes)
