"""GRU4Rec (Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks",
ICLR 2016; the cross-entropy variant of Hidasi & Karatzoglou, CIKM 2018), as the course
report ran it: item embedding -> dropout -> one GRU layer -> a feed-forward layer back to
the embedding size -> scores as the inner product with the same item table, trained with
the full-softmax cross-entropy.

The GRU reads the right-padded history left to right, so its state at position ``t``
depends on items ``1..t`` only: :meth:`GRU4Rec.encode_positions` is one pass, and
``targets: all`` trains every position of a session at the cost of one sequence.
"""
from __future__ import annotations

import paddle
import paddle.nn as nn

from srgnn_paddle.config import Config
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.models.base import Recommender
from srgnn_paddle.models.sequence import check_catalogue, history_tensors, initialise, last_position, lengths


class GRU4Rec(Recommender):
    """GRU4Rec with tied input/output item embeddings.

    Options (:class:`~srgnn_paddle.config.Config`): ``embedding_dim`` ``D``, ``hidden_size``
    ``H`` (0 = ``D``), ``dropout`` (on the embeddings), ``init``, ``score_padding``.
    ``sparse_item_grad``: the item lookup's gradient holds only the batch's rows (see
    :class:`~srgnn_paddle.models.srgnn.SRGNN`).
    """

    name = "gru4rec"
    display_name = "GRU4Rec"
    batch_layout = "sequence"
    inner_product = True

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        super().__init__()
        self.n_items = check_catalogue(cfg, self.name)
        self.embedding_dim = d = cfg.embedding_dim
        self.score_padding = cfg.score_padding
        h = cfg.hidden_size or d
        self.item_emb = nn.Embedding(self.n_items, d, padding_idx=0, sparse=sparse_item_grad)
        self.emb_dropout = nn.Dropout(cfg.dropout)
        self.gru = nn.GRU(d, h)
        self.feed_forward = nn.Linear(h, d)
        initialise(self, cfg)

    def states(self, batch: Batch) -> paddle.Tensor:
        """GRU states ``[B, L, H]`` of the histories (zeros on padding)."""
        items, mask = history_tensors(batch)
        x = self.emb_dropout(self.item_emb(items))  # [B, L, D]
        states, _ = self.gru(x, sequence_length=lengths(mask))  # [B, L, H]
        return states

    def encode(self, batch: Batch) -> paddle.Tensor:
        """``[B, D]``: the feed-forward layer on the GRU state after the last item."""
        _, mask = history_tensors(batch)
        return self.feed_forward(last_position(self.states(batch), mask))

    def encode_positions(self, batch: Batch) -> paddle.Tensor:
        """``[B, L, D]``: the feed-forward layer on the GRU state after every item (zeros on padding)."""
        _, mask = history_tensors(batch)
        return self.feed_forward(self.states(batch)) * mask.unsqueeze(-1)

    def item_embeddings(self) -> paddle.Tensor:
        """The item table ``[n_items, D]`` (row 0 = padding)."""
        return self.item_emb.weight
