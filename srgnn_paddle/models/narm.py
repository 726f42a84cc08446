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

from srgnn_paddle.config import Config
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.kernels.linear import Linear
from srgnn_paddle.models.layers import initialise, last_position
from srgnn_paddle.models.sequence import AttentiveGRUSessionModel


class NARM(AttentiveGRUSessionModel):
    """NARM with the published dropouts.

    Options: ``embedding_dim`` ``D``, ``hidden_size`` ``H`` (0 = ``D``), ``init``,
    ``score_padding``; ``sparse_item_grad`` as in :class:`~srgnn_paddle.models.sequence.SessionModel`.
    """

    name = "narm"
    display_name = "NARM"

    EMBEDDING_DROPOUT = 0.25
    CONTEXT_DROPOUT = 0.5

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        # item_emb, emb_dropout, the GRU and the attention's A1, A2, v
        super().__init__(cfg, sparse_item_grad, dropout=self.EMBEDDING_DROPOUT)
        self.ct_dropout = nn.Dropout(self.CONTEXT_DROPOUT)
        self.b = Linear(2 * self.hidden_size, self.embedding_dim, bias_attr=False)  # the bilinear decoder's B
        initialise(self, cfg.init, cfg.embedding_dim)

    def encode(self, batch: Batch) -> paddle.Tensor:
        """``B c_t``: ``[B, D]``."""
        h, mask = self.states(batch)  # [B, L, H]
        c_global = last_position(h, mask)  # [B, H]
        c_local = self.attend(c_global, h, mask)  # [B, H]
        return self.b(self.ct_dropout(paddle.concat([c_global, c_local], axis=-1)))

    def encode_positions(self, batch: Batch) -> paddle.Tensor:
        """``[B, L, D]``: ``B c_t`` at every position ``t``, each attending to states
        ``h_1..h_t`` only (what :meth:`encode` gives for the prefix; zeros on padding)."""
        h, mask = self.states(batch)
        c_local = self.attend_causal(h, mask)  # [B, L, H]
        c = self.ct_dropout(paddle.concat([h, c_local], axis=-1))
        return self.b(c) * mask.unsqueeze(-1)
