"""The bases of the session models: :class:`SessionModel` (SR-GNN, GRU4Rec, NARM, STAMP,
GRUwATT, GGNNwATT), one item table ``item_emb [n_items, D]`` (row 0 padding) that embeds the
history and scores the items (tied input and output embeddings), the catalogue check, and
the declaration of the item table's row-sparse gradient; :class:`GRUSessionModel`
(GRU4Rec, NARM, GRUwATT), which reads the history with a GRU; and
:class:`AttentiveGRUSessionModel` (NARM, GRUwATT), which adds NARM's attention over the
GRU states."""
from __future__ import annotations

from typing import List, Optional, Tuple

import paddle
import paddle.nn as nn

from srgnn_paddle.config import Config
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.kernels.linear import Linear
from srgnn_paddle.models.base import Recommender
from srgnn_paddle.models.layers import additive_attention, causal_additive_attention, history_tensors, lengths


class SessionModel(Recommender):
    """A session encoder over a tied item table.

    The constructor builds ``item_emb`` (and ``emb_dropout`` when ``dropout`` is given), in
    that order, before the subclass adds its own layers: so parameters are created (and
    drawn) in the order of the paper's description. Subclasses end their constructor with
    :func:`~srgnn_paddle.models.layers.initialise`.

    Args:
        cfg: ``n_items`` (at least 2: ids ``1..n_items-1``, 0 = padding),
            ``embedding_dim`` ``D``, ``score_padding``.
        sparse_item_grad: the item lookup's gradient holds only the batch's rows (Paddle
            adds them into the dense gradient of the full softmax) instead of a zeroed
            ``[n_items, D]`` copy per step. ``paddle.DataParallel`` does not accept a sparse
            gradient on a table that is also used densely, so data-parallel training passes
            ``False``. Either way the gradient reaching the optimiser is the same dense tensor.
        dropout: the dropout on the item embeddings (``None``: the model has none).
    """

    def __init__(self, cfg: Config, sparse_item_grad: bool = True, dropout: Optional[float] = None) -> None:
        super().__init__()
        if cfg.n_items < 2:
            raise SrgnnError(f"{self.name} needs n_items >= 2 (ids 1..n_items-1, 0 = padding), got {cfg.n_items}")
        self.n_items = int(cfg.n_items)
        self.embedding_dim = int(cfg.embedding_dim)
        self.score_padding = bool(cfg.score_padding)
        self.sparse_item_grad = sparse_item_grad
        self.item_emb = nn.Embedding(self.n_items, self.embedding_dim, padding_idx=0, sparse=sparse_item_grad)
        if dropout is not None:
            self.emb_dropout = nn.Dropout(dropout)

    def item_embeddings(self) -> paddle.Tensor:
        """The item table ``[n_items, D]`` (row 0 = padding)."""
        return self.item_emb.weight

    def sparse_parameters(self) -> List[str]:
        """``["item_emb.weight"]`` with ``sparse_item_grad``, else none."""
        return ["item_emb.weight"] if self.sparse_item_grad else []


class GRUSessionModel(SessionModel):
    """A session model whose history is read by one GRU layer: item embeddings, their
    dropout, then ``gru`` (``D -> H``, ``H = cfg.hidden_size`` or ``D``), built in that order.
    The GRU is Paddle's ``nn.GRU`` with either kernels (its GEMMs never reach the host kernel).

    Args:
        cfg: as :class:`SessionModel`, plus ``hidden_size`` (0 = ``D``).
        sparse_item_grad: as :class:`SessionModel`.
        dropout: the dropout on the item embeddings.
    """

    def __init__(self, cfg: Config, sparse_item_grad: bool, dropout: float) -> None:
        super().__init__(cfg, sparse_item_grad, dropout=dropout)
        self.hidden_size = int(cfg.hidden_size or self.embedding_dim)
        self.gru = nn.GRU(self.embedding_dim, self.hidden_size)

    def states(self, batch: Batch) -> Tuple[paddle.Tensor, paddle.Tensor]:
        """``(GRU states [B, L, H] (zeros on padding), mask [B, L])`` of the batch's histories."""
        items, mask = history_tensors(batch)
        states, _ = self.gru(self.emb_dropout(self.item_emb(items)), sequence_length=lengths(mask))
        return states, mask


class AttentiveGRUSessionModel(GRUSessionModel):
    """A GRU session model with NARM's attention over its states (Li et al. 2017, the local
    encoder): ``a_tj = v^T sigmoid(A1 h_t + A2 h_j)``, the layers ``a_1`` (``A1``, on the query),
    ``a_2`` (``A2``, on every state) and ``v``, built after the GRU. Arguments as
    :class:`GRUSessionModel`."""

    def __init__(self, cfg: Config, sparse_item_grad: bool, dropout: float) -> None:
        super().__init__(cfg, sparse_item_grad, dropout)
        h = self.hidden_size
        self.a_1 = Linear(h, h, bias_attr=False)  # A1, on the query h_t
        self.a_2 = Linear(h, h, bias_attr=False)  # A2, on every state h_j
        self.v = Linear(h, 1, bias_attr=False)

    def attend(self, query: paddle.Tensor, states: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """``sum_j a_tj h_j`` over the real states for one query per row: ``query [B, H]``,
        ``states [B, L, H]``, ``mask [B, L]`` -> ``[B, H]``."""
        return additive_attention(self.a_1, self.a_2, self.v, query, states, mask)

    def attend_causal(self, states: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Every position ``t`` as the query, over ``h_1..h_t``: ``[B, L, H]`` -> ``[B, L, H]``."""
        return causal_additive_attention(self.a_1, self.a_2, self.v, states, mask)
