"""NARM (Li et al., "Neural Attentive Session-based Recommendation", CIKM 2017).

A GRU reads the session; the global encoder's vector is its last state
``c_g = h_t``; the local encoder attends over all states with the query ``h_t``:
``a_tj = v^T sigmoid(A1 h_t + A2 h_j)``, ``c_l = sum_j a_tj h_j`` (padding masked out);
``c_t = [c_g; c_l]``; the bilinear decoder scores item ``i`` as ``S_i = emb_i^T B c_t``.
Dropout 0.25 on the item embeddings and 0.5 on ``c_t``, as published.

The bilinear score is an inner product with the item table once ``B c_t`` is the session
vector, so :meth:`NARM.encode` returns ``B c_t`` (``[B, D]``) and the full softmax, the
rank counting and Faiss retrieval (over ``B c_t``) apply unchanged.
"""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from srgnn_paddle.config import Config
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.kernels.linear import Linear
from srgnn_paddle.models.layers import causal_pairs, gru_states, initialise, last_position
from srgnn_paddle.models.sequence import SessionModel


class NARM(SessionModel):
    """NARM with the published dropouts.

    Options: ``embedding_dim`` ``D``, ``hidden_size`` ``H`` (0 = ``D``), ``init``,
    ``score_padding``; ``sparse_item_grad`` as in :class:`~srgnn_paddle.models.sequence.SessionModel`.
    """

    name = "narm"
    display_name = "NARM"

    EMBEDDING_DROPOUT = 0.25
    CONTEXT_DROPOUT = 0.5

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        super().__init__(cfg, sparse_item_grad, dropout=self.EMBEDDING_DROPOUT)
        h = cfg.hidden_size or self.embedding_dim
        self.gru = nn.GRU(self.embedding_dim, h)
        self.a_1 = Linear(h, h, bias_attr=False)  # A1, on the query h_t
        self.a_2 = Linear(h, h, bias_attr=False)  # A2, on every state h_j
        self.v = Linear(h, 1, bias_attr=False)
        self.ct_dropout = nn.Dropout(self.CONTEXT_DROPOUT)
        self.b = Linear(2 * h, self.embedding_dim, bias_attr=False)  # the bilinear decoder's B
        initialise(self, cfg.init, cfg.embedding_dim)

    def encode(self, batch: Batch) -> paddle.Tensor:
        """``B c_t``: ``[B, D]``."""
        h, mask = gru_states(self.item_emb, self.emb_dropout, self.gru, batch)  # [B, L, H]
        c_global = last_position(h, mask)  # [B, H]
        alpha = self.v(F.sigmoid(self.a_1(c_global).unsqueeze(1) + self.a_2(h)))  # [B, L, 1]
        c_local = paddle.sum(alpha * h * mask.unsqueeze(-1), axis=1)  # [B, H]
        return self.b(self.ct_dropout(paddle.concat([c_global, c_local], axis=-1)))

    def encode_positions(self, batch: Batch) -> paddle.Tensor:
        """``[B, L, D]``: ``B c_t`` at every position ``t``, each attending to states
        ``h_1..h_t`` only (what :meth:`encode` gives for the prefix; zeros on padding)."""
        h, mask = gru_states(self.item_emb, self.emb_dropout, self.gru, batch)
        scores = self.v(F.sigmoid(self.a_1(h).unsqueeze(2) + self.a_2(h).unsqueeze(1))).squeeze(-1)  # [B, L, L]
        alpha = scores * causal_pairs(mask)  # [b, t, j]: j <= t
        c_local = paddle.bmm(alpha, h)  # [B, L, H]
        c = self.ct_dropout(paddle.concat([h, c_local], axis=-1))
        return self.b(c) * mask.unsqueeze(-1)
