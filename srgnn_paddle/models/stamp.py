"""STAMP (Liu et al., "STAMP: Short-Term Attention/Memory Priority Model for Session-based
Recommendation", KDD 2018).

For a session ``x_1..x_t`` (item embeddings): the memory ``m_s = mean(x_1..x_t)``, the
last click ``m_t = x_t``; attention ``a_i = w_0^T sigmoid(W_1 x_i + W_2 x_t + W_3 m_s + b_a)``
and ``m_a = sum_i a_i x_i``; two MLP cells ``h_s = tanh(W_s m_a + b_s)``,
``h_t = tanh(W_t m_t + b_t)``; item ``i`` scores the trilinear product
``<h_s, h_t, x_i>``, which is the inner product of ``h_s * h_t`` with ``x_i``: that is
:meth:`STAMP.encode`. Trained with the full-softmax cross-entropy.
"""
from __future__ import annotations

import paddle
import paddle.nn.functional as F

from srgnn_paddle.config import Config
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.kernels.linear import Linear
from srgnn_paddle.models.layers import causal_pairs, history_tensors, initialise, last_position
from srgnn_paddle.models.sequence import SessionModel


class STAMP(SessionModel):
    """STAMP. Options: ``embedding_dim`` ``D``, ``init``, ``score_padding``;
    ``sparse_item_grad`` as in :class:`~srgnn_paddle.models.sequence.SessionModel`."""

    name = "stamp"
    display_name = "STAMP"

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        super().__init__(cfg, sparse_item_grad)
        d = self.embedding_dim
        self.w_1 = Linear(d, d, bias_attr=False)  # on each x_i
        self.w_2 = Linear(d, d, bias_attr=False)  # on x_t
        self.w_3 = Linear(d, d, bias_attr=False)  # on m_s
        self.b_a = self.create_parameter([d], is_bias=True)
        self.w_0 = Linear(d, 1, bias_attr=False)
        self.mlp_s = Linear(d, d)  # h_s = tanh(W_s m_a + b_s)
        self.mlp_t = Linear(d, d)  # h_t = tanh(W_t m_t + b_t)
        initialise(self, cfg.init, cfg.embedding_dim)

    def encode(self, batch: Batch) -> paddle.Tensor:
        """``h_s * h_t``: ``[B, D]``."""
        items, mask = history_tensors(batch)
        x = self.item_emb(items)  # [B, L, D]
        m = mask.unsqueeze(-1)
        x_t = last_position(x, mask)  # [B, D]
        m_s = paddle.sum(x * m, axis=1) / paddle.sum(m, axis=1).clip(min=1.0)  # [B, D]
        query = self.w_2(x_t) + self.w_3(m_s) + self.b_a  # [B, D]
        alpha = self.w_0(F.sigmoid(self.w_1(x) + query.unsqueeze(1)))  # [B, L, 1]
        m_a = paddle.sum(alpha * x * m, axis=1)  # [B, D]
        return paddle.tanh(self.mlp_s(m_a)) * paddle.tanh(self.mlp_t(x_t))

    def encode_positions(self, batch: Batch) -> paddle.Tensor:
        """``[B, L, D]``: ``h_s * h_t`` of every prefix in one pass (``m_s`` a running
        mean, attention over positions ``<= t``; zeros on padding)."""
        items, mask = history_tensors(batch)
        x = self.item_emb(items)  # [B, L, D]
        m = mask.unsqueeze(-1)
        m_s = paddle.cumsum(x * m, axis=1) / paddle.cumsum(m, axis=1).clip(min=1.0)  # [B, L, D]
        query = self.w_2(x) + self.w_3(m_s) + self.b_a  # [B, L, D]: position t's x_t and m_s
        scores = self.w_0(F.sigmoid(query.unsqueeze(2) + self.w_1(x).unsqueeze(1))).squeeze(-1)  # [B, L, L]
        m_a = paddle.bmm(scores * causal_pairs(mask), x)  # [B, L, D]
        return paddle.tanh(self.mlp_s(m_a)) * paddle.tanh(self.mlp_t(x)) * m
