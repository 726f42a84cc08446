"""GRUwATT, the model of the course report that this toolkit reproduces (docs/session_models.md):
a GRU with NARM's attention computed for every position.

GRU states ``h_1..h_L``; at position ``t`` the attention ``a_tj = v^T sigmoid(A1 h_t + A2 h_j)``
over ``j <= t`` gives ``c_t = sum_j a_tj h_j``; ``[c_t; h_t]`` goes through a feed-forward
layer back to the embedding size, so the output is ``[B, L, D]`` and every position can be
trained (``targets: all``) in one pass. Items are scored by the inner product with the
item table. Unlike NARM, whose context is formed once for the last state, the context of
position ``t`` sees only the states up to ``t``, so position ``t``'s vector is the
session vector of the prefix ``1..t``.
"""
from __future__ import annotations

import paddle

from srgnn_paddle.config import Config
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.kernels.linear import Linear
from srgnn_paddle.models.layers import initialise, last_position
from srgnn_paddle.models.sequence import AttentiveGRUSessionModel


class GRUwATT(AttentiveGRUSessionModel):
    """GRUwATT. Options: ``embedding_dim`` ``D``, ``hidden_size`` ``H`` (0 = ``D``),
    ``dropout`` (on the embeddings), ``init``, ``score_padding``; ``sparse_item_grad`` as in
    :class:`~srgnn_paddle.models.sequence.SessionModel`."""

    name = "gruwatt"
    display_name = "GRUwATT"

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        super().__init__(cfg, sparse_item_grad, dropout=cfg.dropout)  # item_emb, emb_dropout, gru, a_1, a_2, v
        self.feed_forward = Linear(2 * self.hidden_size, self.embedding_dim)  # [c_t; h_t] -> D
        initialise(self, cfg.init, cfg.embedding_dim)

    def encode(self, batch: Batch) -> paddle.Tensor:
        """The last position's vector ``[B, D]`` (its attention over every state of the history)."""
        h, mask = self.states(batch)  # [B, L, H]
        h_t = last_position(h, mask)  # [B, H]
        c_t = self.attend(h_t, h, mask)  # [B, H]
        return self.feed_forward(paddle.concat([c_t, h_t], axis=-1))

    def encode_positions(self, batch: Batch) -> paddle.Tensor:
        """``[B, L, D]``: every position's vector, its attention over ``h_1..h_t`` (zeros on padding)."""
        h, mask = self.states(batch)
        c = self.attend_causal(h, mask)  # [B, L, H]
        return self.feed_forward(paddle.concat([c, h], axis=-1)) * mask.unsqueeze(-1)
