"""SASRec (Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018): causal
self-attention over the history with learned position embeddings.

In the paper's notation, for a history ``s_1 .. s_n`` (embeddings ``M_{s_i}``):

* §III-A: ``E^_i = M_{s_i} + P_i`` with learned positions ``P`` (the official code scales
  ``M`` by ``sqrt(d)`` first and applies dropout to the sum);
* §III-B-D: ``b`` blocks (config ``num_layers``, 0 = the paper's 2) of causal self-attention
  ``S = SA(E^) = softmax(Q K^T / sqrt(d)) V`` (position ``t`` attends to ``1..t`` only) and the
  point-wise feed-forward network ``F_i = W^(2) ReLU(W^(1) S_i + b^(1)) + b^(2)``, each with
  ``g(x) = x + Dropout(g(LayerNorm(x)))``: :class:`~srgnn_paddle.models.layers.SelfAttentionBlock`
  (shared with GC-SAN) with ``causal=True``; heads: config ``num_heads`` (0 = the paper's 1);
  a last layer normalisation (official code);
* §III-E: the relevance of item ``i`` after position ``t`` is ``r_{i,t} = F^(b)_t M_i^T`` (the
  shared item embedding).

Every position's output depends on positions ``<= t`` only, so :meth:`SASRec.encode_positions`
is one pass and ``targets: all`` trains every position of a session at the cost of one
sequence, as the paper does; :meth:`SASRec.encode` is the last real position.

Where this differs from the paper / the official code: the loss is the softmax cross-entropy
over the whole catalogue (the project's objective, and what the papers that report SASRec on
session data with full ranking use, e.g. RecBole), not the binary cross-entropy with one
sampled negative per position; histories are right-padded and positions counted from the
first item (the official code left-pads to ``maxlen`` and counts from the window's start),
which keeps a prefix's vectors equal to those of the full session; ``max_positions`` (0 = 50,
the official ``maxlen``) positions are learned and later ones share the last instead of
cutting the history (use ``session_max_length`` to cut it); the heads are joined by an output
projection and the residual adds the normalised input (both as in
:class:`~srgnn_paddle.models.layers.SelfAttentionBlock`); Adam's ``beta2`` is the run's (0.999), not the official 0.98.
"""
from __future__ import annotations

import math

import paddle
import paddle.nn as nn

from srgnn_paddle.config import Config
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.models.layers import (PositionEmbedding, SelfAttentionBlock, history_positions, history_tensors,
                                        initialise, last_position)
from srgnn_paddle.models.sequence import SessionModel

PAPER_LAYERS = 2  # b
PAPER_HEADS = 1
DEFAULT_POSITIONS = 50  # the official maxlen (config max_positions = 0)


class SASRec(SessionModel):
    """SASRec. Options: ``embedding_dim`` ``d``, ``num_layers`` (``b``, 0 = 2), ``num_heads``
    (0 = 1), ``dropout`` (on the embeddings and in every block), ``max_positions`` (0 = 50),
    ``init``, ``score_padding``; ``sparse_item_grad`` as in
    :class:`~srgnn_paddle.models.sequence.SessionModel`."""

    name = "sasrec"
    display_name = "SASRec"

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        super().__init__(cfg, sparse_item_grad, dropout=cfg.dropout)  # item_emb (M), emb_dropout
        d = self.embedding_dim
        self.position_emb = PositionEmbedding(cfg.max_positions or DEFAULT_POSITIONS, d)  # P
        self.blocks = nn.LayerList([SelfAttentionBlock(d, cfg.num_heads or PAPER_HEADS, cfg.dropout, causal=True)
                                    for _ in range(cfg.num_layers or PAPER_LAYERS)])
        self.last_norm = nn.LayerNorm(d)
        initialise(self, cfg.init, d)

    def encode_positions(self, batch: Batch) -> paddle.Tensor:
        """``F^(b)``: ``[B, L, d]``, position ``t`` from the items ``1..t`` only (zeros on padding)."""
        items, mask = history_tensors(batch)
        x = self.item_emb(items) * math.sqrt(self.embedding_dim) + self.position_emb(history_positions(mask))
        x = self.emb_dropout(x) * mask.unsqueeze(-1)  # [B, L, d]
        for block in self.blocks:
            x = block(x, mask)
        return self.last_norm(x) * mask.unsqueeze(-1)

    def encode(self, batch: Batch) -> paddle.Tensor:
        """``F^(b)`` at the last real position: ``[B, d]``."""
        _, mask = history_tensors(batch)
        return last_position(self.encode_positions(batch), mask)
