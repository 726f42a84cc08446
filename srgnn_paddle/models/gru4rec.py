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

from srgnn_paddle.config import Config
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.kernels.linear import Linear
from srgnn_paddle.models.layers import initialise, last_position
from srgnn_paddle.models.sequence import GRUSessionModel


class GRU4Rec(GRUSessionModel):
    """GRU4Rec with tied input/output item embeddings.

    Options (:class:`~srgnn_paddle.config.Config`): ``embedding_dim`` ``D``, ``hidden_size``
    ``H`` (0 = ``D``), ``dropout`` (on the embeddings), ``init``, ``score_padding``;
    ``sparse_item_grad`` as in :class:`~srgnn_paddle.models.sequence.SessionModel`.
    """

    name = "gru4rec"
    display_name = "GRU4Rec"

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        super().__init__(cfg, sparse_item_grad, dropout=cfg.dropout)  # item_emb, emb_dropout, gru
        self.feed_forward = Linear(self.hidden_size, self.embedding_dim)
        initialise(self, cfg.init, cfg.embedding_dim)

    def encode(self, batch: Batch) -> paddle.Tensor:
        """``[B, D]``: the feed-forward layer on the GRU state after the last item."""
        states, mask = self.states(batch)  # [B, L, H]
        return self.feed_forward(last_position(states, mask))

    def encode_positions(self, batch: Batch) -> paddle.Tensor:
        """``[B, L, D]``: the feed-forward layer on the GRU state after every item (zeros on padding)."""
        states, mask = self.states(batch)
        return self.feed_forward(states) * mask.unsqueeze(-1)
