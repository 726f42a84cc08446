"""GRUwATT, the course report's own model (``/work/shared/spec/course_report.md``): a GRU
with NARM's attention computed for every position.

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
import paddle.nn as nn
import paddle.nn.functional as F

from srgnn_paddle.config import Config
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.models.base import Recommender
from srgnn_paddle.models.sequence import (causal_pairs, check_catalogue, history_tensors, initialise, last_position,
                                          lengths)


class GRUwATT(Recommender):
    """GRUwATT. Options: ``embedding_dim`` ``D``, ``hidden_size`` ``H`` (0 = ``D``),
    ``dropout`` (on the embeddings), ``init``, ``score_padding``; ``sparse_item_grad`` as in
    :class:`~srgnn_paddle.models.gru4rec.GRU4Rec`."""

    name = "gruwatt"
    display_name = "GRUwATT"
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
        self.a_1 = nn.Linear(h, h, bias_attr=False)  # A1, on the query h_t
        self.a_2 = nn.Linear(h, h, bias_attr=False)  # A2, on every state h_j
        self.v = nn.Linear(h, 1, bias_attr=False)
        self.feed_forward = nn.Linear(2 * h, d)  # [c_t; h_t] -> D
        initialise(self, cfg)

    def states(self, batch: Batch):
        """``(GRU states [B, L, H] (zeros on padding), mask [B, L])``."""
        items, mask = history_tensors(batch)
        states, _ = self.gru(self.emb_dropout(self.item_emb(items)), sequence_length=lengths(mask))
        return states, mask

    def encode(self, batch: Batch) -> paddle.Tensor:
        """The last position's vector ``[B, D]`` (its attention over every state of the history)."""
        h, mask = self.states(batch)
        h_t = last_position(h, mask)  # [B, H]
        alpha = self.v(F.sigmoid(self.a_1(h_t).unsqueeze(1) + self.a_2(h)))  # [B, L, 1]
        c_t = paddle.sum(alpha * h * mask.unsqueeze(-1), axis=1)  # [B, H]
        return self.feed_forward(paddle.concat([c_t, h_t], axis=-1))

    def encode_positions(self, batch: Batch) -> paddle.Tensor:
        """``[B, L, D]``: every position's vector, its attention over ``h_1..h_t`` (zeros on padding)."""
        h, mask = self.states(batch)
        scores = self.v(F.sigmoid(self.a_1(h).unsqueeze(2) + self.a_2(h).unsqueeze(1))).squeeze(-1)  # [B, L, L]
        c = paddle.bmm(scores * causal_pairs(mask), h)  # [B, L, H]
        return self.feed_forward(paddle.concat([c, h], axis=-1)) * mask.unsqueeze(-1)

    def item_embeddings(self) -> paddle.Tensor:
        """The item table ``[n_items, D]`` (row 0 = padding)."""
        return self.item_emb.weight
